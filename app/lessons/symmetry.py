"""The recap after lessons 2-5: which token rearrangements each operator commutes with, and the 2 × 2 table.

Measured on random inputs in float64: for a rearrangement R of the tokens (a random permutation, or a
circular shift by one column), the gap |f(R X) − R f(X)| relative to |f(X)|. The shift is compared away
from the border (the conv's zero padding sees the wrapped column there).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch
from torch import nn

from container_edu.aggregation import DepthwiseConvAggregation, MultiHeadSelfAttention, TokenMixing

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


@torch.no_grad()
def symmetry_rows(seed: int = 0) -> list[dict]:
    torch.manual_seed(seed)
    operators = {
        "attention": _Attention(with_pos_embed=False),
        f"depthwise conv {KERNEL}×{KERNEL}": DepthwiseConvAggregation(CHANNELS, KERNEL),
        "Mixer (one learned N × N)": TokenMixing(SIDE * SIDE),
        "attention after pos_embed": _Attention(with_pos_embed=True),
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
        rows.append({"operator": name, "gap after a random permutation": permuted,
                     "commutes with permutations": permuted < EXACT, "gap after a shift (interior)": shifted,
                     "commutes with shifts": shifted < EXACT})
    return rows


RECAP = pd.DataFrame({"dense (every token reaches every token)": ["attention (lesson 5)", "Mixer (lesson 4)"],
                      "sparse (a local window)": ["?", "depthwise conv (lesson 2)"]},
                     index=["dynamic (A depends on X)", "static (A is a parameter)"])
EMPTY_CELL = ("a local attention: A computed from X, but only inside a window",
              "a bigger conv kernel", "a Mixer with fewer parameters")


def render_recap() -> None:
    with st.expander("Recap of lessons 2-5: two questions that sort the three operators", expanded=True):
        st.dataframe(RECAP, width="stretch")
        guess = st.radio("What belongs in the empty cell (dynamic and sparse)?", EMPTY_CELL, index=None,
                         key="recap_empty_cell")
        if guess == EMPTY_CELL[0]:
            st.success("Yes: attention restricted to a window (as in Swin's windows or deformable attention) is "
                       "dynamic and sparse.")
        elif guess is not None:
            st.error("Not quite: a conv kernel and a Mixer's matrix are both parameters, fixed after training, so "
                     "neither is dynamic.")
        st.markdown("**Symmetry, measured.** Rearrange the tokens, apply the operator, and compare with "
                    "rearranging its output (float64, relative to the output's largest entry):")
        rows = symmetry_rows()
        frame = pd.DataFrame(rows)
        for column in ("gap after a random permutation", "gap after a shift (interior)"):
            frame[column] = frame[column].map(lambda value: f"{value:.1e}")
        st.dataframe(frame, hide_index=True, width="stretch")
        with_pos = rows[-1]
        st.caption("Attention treats the tokens as a set: it commutes with every permutation, so it does not know "
                   "where a token is. The conv commutes with shifts only (its weights depend on the offset), the "
                   "Mixer with neither. Container's pos_embed (a zero-padded 3×3 depthwise conv added to X) breaks "
                   "attention's permutation symmetry: position enters through each token's neighbourhood"
                   + (", and through the border, which attention sees from every token, so even a shift no longer "
                      "commutes exactly." if not with_pos["commutes with shifts"] else "."))
