"""The ``container`` lesson's live Container-PAM: one query's attention row, static row and
their sum, from a trained stage.

No PAM network is trained in the zoo, so the view assembles one from the
general Container's trained block: its ``[Q | K | V]`` for the image and its
learned static ``N x N`` matrices as ``P_m``, put into the core's
:class:`~container_edu.ops.aggregation.ContainerPAMMix`, which adds them with
``alpha = beta = 1``.
"""

from __future__ import annotations

import streamlit as st
import torch
from torch import Tensor, nn

from app.figure_view import show_figure
from app.i18n import _
from container_edu.ops import affinity as aff
from container_edu.ops.aggregation import ContainerPAMMix

from app.lessons.parts import figures
from app.lessons.parts.resources import LessonModel
from app.lessons.parts.widgets import CheckResult, check_close


def pam_from_container(general: nn.Module, block: str, image: Tensor) -> tuple[ContainerPAMMix, Tensor]:
    """A Container-PAM mix whose ``P_m`` are ``block``'s learned static matrices, and the block's ``[Q | K | V]``."""
    module = general.get_submodule(block)
    captured: dict[str, Tensor] = {}
    # conv1's output is exactly what the block aggregates: [Q | K | V] of this image at this block.
    handle = module.conv1.register_forward_hook(lambda _m, _i, out: captured.__setitem__("qkv", out))
    try:
        with torch.no_grad():
            general(image)
    finally:
        handle.remove()
    static = module.mix.static.weight.detach()
    pam = ContainerPAMMix(static.shape[-1], static.shape[0]).to(static.device).eval()
    with torch.no_grad():
        pam.pam.weight.copy_(static)
    return pam, captured["qkv"]


def pam_view(general: LessonModel, block: str, image: Tensor, head: int, query: int) -> CheckResult:
    """Draw PAM's row for one query beside its two parts; return the check that its explicit A_m V_m is exact."""
    pam, qkv = pam_from_container(general.model, block, image[:1].to(general.device))
    height, width = qkv.shape[-2:]
    head = min(head, pam.num_heads - 1)
    with torch.no_grad():
        affinity = pam.affinity(qkv)
        attention = pam.attn.affinity(qkv)[0, head, query].cpu()
        static = pam.pam.weight.detach()[head, query].cpu()
        row = affinity[0, head, query].cpu()
        explicit = aff.aggregate(affinity, pam.values(qkv))
        fast = aff.map_to_tokens(pam(qkv))
    panels = [(attention.view(height, width), _("A_{head}(X) (softmax row)").format(head=head)),
              (static.view(height, width), _("P_{head} (learned, static)").format(head=head)),
              (row.view(height, width), f"A_{head}(X) + P_{head} (PAM)")]
    show_figure(figures.heatmaps_side_by_side(
        panels, _("Container-PAM, row i = t{query} of {block}, head {head}: {model}").format(
            query=query, block=block, head=head, model=general.label), _("weight on token j"),
        diverging=True, grid=True, query=divmod(query, width), height=340), key="container_fig_pam")
    st.caption(_(
        "Row sums: attention {attention:.3f} (a softmax), P {static:+.3f}, PAM {pam:.3f} = 1 + P's row sum; smallest "
        "PAM entry {smallest:+.3f}. Added, not blended: with α = β = 1 nothing rescales either part, so a PAM row is "
        "no longer a probability row. Q, K, V and P are {name}'s own (α = β = 1 replaces its learned α and β; no PAM "
        "network was trained).").format(attention=float(attention.sum()), static=float(static.sum()),
                                        pam=float(row.sum()), smallest=float(row.min()), name=general.name))
    return check_close(_("Container-PAM: concat(A_m V_m) with A_m = softmax(Q_m K_mᵀ s) + P_m = the module's output"),
                       explicit, fast)
