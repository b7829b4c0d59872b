"""The affinity explorer's words: the aggregation kinds' sentences, marked for translation and shown translated.

The computation is the core's (:mod:`container_edu.analysis.explore`).
"""

from __future__ import annotations

from container_edu.ops.kinds import AggregationKind

from app.i18n import N_, _

__all__ = [
    "KIND_DESCRIPTIONS",
    "KIND_FORMULAS",
    "KIND_TRAITS",
    "shown_description",
    "shown_formula",
    "shown_traits",
]

# The kinds registry (container_edu.ops.kinds) is the core and stays English; its sentences are marked here and
# translated where the explorer draws them. tests/test_i18n.py checks that every kind's text is listed.
KIND_DESCRIPTIONS = (
    N_("Dynamic and dense: every row is a softmax over all N tokens and changes with the input."),
    N_("Static and sparse: one banded matrix per channel; a row is the kernel pasted at the query."),
    N_("Static and dense: a single learned matrix that ties the model to one grid size."),
    N_("Static and dense, one learned matrix per head (the zoo's MLP-Mixer variant)."),
    N_("The paper's general Container: a learnable mix of a dynamic and a static dense affinity."),
    N_("Container-Light's MixBlock: α = sigmoid(sa_weight), β = 1 − α, static part a depthwise "
       "conv, so the blend is per channel (head view: conv averaged over the head's channels)."),
    N_("Container-PAM: attention plus a learned static N×N matrix per head, added with "
       "α = β = 1 fixed, so its rows are no longer probabilities."),
)
#: The formulas that contain words (the others are pure symbols and stay as they are).
KIND_FORMULAS = (
    N_("A_c^conv: the k×k kernel of channel c pasted at each query (a Toeplitz band)"),
    N_("A^mix: one learned N×N matrix, shared by all channels"),
    N_("A_m^mlp: one learned N×N matrix per head"),
)
KIND_TRAITS = (N_("dynamic, dense"), N_("dynamic, sparse"), N_("static, dense"), N_("static, sparse"))


def shown_description(kind: AggregationKind) -> str:
    """The kind's one-sentence description in the session's language."""
    return _(kind.description)


def shown_formula(kind: AggregationKind) -> str:
    """How the kind makes its affinity, in the session's language (symbols unchanged)."""
    return _(kind.formula)


def shown_traits(kind: AggregationKind) -> str:
    """``dynamic, dense`` and the like, in the session's language."""
    return _(kind.traits)
