"""The recap at the end of the ``attention`` lesson (after ``conv``, ``shift`` and ``mixer``):
which token rearrangements each operator commutes with, and the 2 × 2 table.

Measured on random inputs in float64: for a rearrangement R of the tokens (a random permutation, or a
circular shift by one column), the gap |f(R X) − R f(X)| relative to |f(X)|. The shift is compared away
from the border (the conv's zero padding sees the wrapped column there).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch
from torch import nn

from app.i18n import N_, _
from container_edu.ops.aggregation import DepthwiseConvAggregation, MultiHeadSelfAttention, TokenMixing

from app.lessons.parts.course import lesson_refs, lesson_span

SIDE, CHANNELS, HEADS, KERNEL = 8, 8, 2, 3
EXACT = 1e-9  # float64: a gap below this is "commutes"


class _Attention(nn.Module):
    """Attention on X: a 1×1 conv makes Q | K | V per token, optionally after adding a 3×3 depthwise pos_embed."""

    def __init__(self, with_pos_embed: bool) -> None:
        super().__init__()
        self.qkv = nn.Conv2d(CHANNELS, 3 * CHANNELS, 1)
        self.pos_embed = nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1, groups=CHANNELS) if with_pos_embed else None
        self.attention = MultiHeadSelfAttention(HEADS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pos_embed is not None:
            x = x + self.pos_embed(x)
        return self.attention(self.qkv(x))


def _permute(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    batch, channels, height, width = x.shape
    return x.flatten(2)[..., order].reshape(batch, channels, height, width)


def _gap(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> float:
    return float((a - b).abs().max() / scale.abs().max())


# The operators' names (English templates, translated when drawn; the rows keep the English).
_ATTENTION, _CONV = N_("attention"), N_("depthwise conv {k}×{k}")
_MIXER, _ATTENTION_POS = N_("Mixer (one learned N × N)"), N_("attention after pos_embed")
#: The columns of :func:`symmetry_rows`, as drawn.
_COLUMNS = (N_("operator"), N_("gap after a random permutation"), N_("commutes with permutations"),
            N_("gap after a shift (interior)"), N_("commutes with shifts"))


@torch.no_grad()
def symmetry_rows(seed: int = 0) -> list[dict]:
    torch.manual_seed(seed)
    operators = {
        _ATTENTION: _Attention(with_pos_embed=False),
        _CONV: DepthwiseConvAggregation(CHANNELS, KERNEL),
        _MIXER: TokenMixing(SIDE * SIDE),
        _ATTENTION_POS: _Attention(with_pos_embed=True),
    }
    x = torch.randn(1, CHANNELS, SIDE, SIDE, dtype=torch.float64)
    order = torch.randperm(SIDE * SIDE)
    inner = slice(KERNEL, SIDE - KERNEL)  # far enough from the border for the conv's window
    rows = []
    for name, operator in operators.items():
        operator = operator.double().eval()
        out = operator(x)
        permuted = _gap(operator(_permute(x, order)), _permute(out, order), out)
        shifted_in, shifted_out = operator(torch.roll(x, 1, dims=-1)), torch.roll(out, 1, dims=-1)
        shifted = _gap(shifted_in[..., inner, inner], shifted_out[..., inner, inner], out)
        rows.append({"operator": name.format(k=KERNEL), "gap after a random permutation": permuted,
                     "commutes with permutations": permuted < EXACT, "gap after a shift (interior)": shifted,
                     "commutes with shifts": shifted < EXACT})
    return rows


#: The 2 × 2 table, in English (``N_``): translated cell by cell when drawn, each lesson named by its number then.
RECAP = pd.DataFrame({N_("dense (every token reaches every token)"): [N_("attention ({attention_lesson})"),
                                                                       N_("Mixer ({mixer_lesson})")],
                      N_("sparse (a local window)"): ["?", N_("depthwise conv ({conv_lesson})")]},
                     index=[N_("dynamic (A depends on X)"), N_("static (A is a parameter)")])
EMPTY_CELL = (N_("a local attention: A computed from X, but only inside a window"),
              N_("a bigger conv kernel"), N_("a Mixer with fewer parameters"))


def _translated_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its index, columns and text cells in the session's language, lessons named by number."""
    refs = lesson_refs()
    shown = frame.map(lambda cell: _(cell).format(**refs) if isinstance(cell, str) and cell != "?" else cell)
    shown.index = [_(name) if isinstance(name, str) else name for name in frame.index]
    shown.columns = [_(name) for name in frame.columns]
    return shown


def render_recap() -> None:
    recapped = lesson_span("conv", "attention")
    with st.expander(_("Recap of {lessons}: two questions that sort the three operators").format(lessons=recapped),
                     expanded=True):
        st.dataframe(_translated_frame(RECAP), width="stretch")
        labels = {option: _(option) for option in EMPTY_CELL}
        guess = st.radio(_("What belongs in the empty cell (dynamic and sparse)?"), EMPTY_CELL, index=None,
                         key="recap_empty_cell", format_func=labels.__getitem__)
        if guess == EMPTY_CELL[0]:
            st.success(_("Yes: attention restricted to a window (as in Swin's windows or deformable attention) is "
                         "dynamic and sparse."))
        elif guess is not None:
            st.error(_("Not quite: a conv kernel and a Mixer's matrix are both parameters, fixed after training, so "
                       "neither is dynamic."))
        st.markdown(_("**Symmetry, measured.** Rearrange the tokens, apply the operator, and compare with "
                      "rearranging its output (float64, relative to the output's largest entry):"))
        rows = symmetry_rows()
        frame = pd.DataFrame(rows)
        for column in ("gap after a random permutation", "gap after a shift (interior)"):
            frame[column] = frame[column].map(lambda value: f"{value:.1e}")
        names = {template.format(k=KERNEL): _(template).format(k=KERNEL)
                 for template in (_ATTENTION, _CONV, _MIXER, _ATTENTION_POS)}
        frame["operator"] = frame["operator"].map(names)
        frame.columns = [_(column) for column in _COLUMNS]
        st.dataframe(frame, hide_index=True, width="stretch")
        with_pos = rows[-1]
        if with_pos["commutes with shifts"]:
            ending = _("Attention treats the tokens as a set: it commutes with every permutation, so it does not "
                       "know where a token is. The conv commutes with shifts only (its weights depend on the offset), "
                       "the Mixer with neither. Container's pos_embed (a zero-padded 3×3 depthwise conv added to X) "
                       "breaks attention's permutation symmetry: position enters through each token's neighbourhood.")
        else:
            ending = _("Attention treats the tokens as a set: it commutes with every permutation, so it does not "
                       "know where a token is. The conv commutes with shifts only (its weights depend on the offset), "
                       "the Mixer with neither. Container's pos_embed (a zero-padded 3×3 depthwise conv added to X) "
                       "breaks attention's permutation symmetry: position enters through each token's neighbourhood, "
                       "and through the border, which attention sees from every token, so even a shift no longer "
                       "commutes exactly.")
        st.caption(ending)
