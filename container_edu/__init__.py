"""container_edu: the unified view of context aggregation from the Container paper, made explicit.

Self-attention, depthwise convolution and MLP-Mixer token mixing are one
operation, ``Y = concat(A_1 V_1, ..., A_M V_M) W_o``, that differ in how the
affinity ``A_m`` is made. ``container_edu.ops.affinity`` builds each ``A_m``;
``container_edu.ops.aggregation`` holds the operators as modules; ``models``
holds Container-Light and a small zoo; ``record_affinities()`` shows what a
network aggregated; ``inspect(model, image)`` runs a model once on a picture
and draws what every block aggregated (``container_edu.figures``, Plotly).

Glossary, paper symbol -> code (the code keeps the reference checkpoint's key names):

- ``X``: a block's input map ``(B, C, H, W)``, ``x`` in ``models.blocks._ResidualBlock.forward``.
- ``H x W``, ``N = H W``: the token grid, ``AggregationRecord.grid`` and ``.num_tokens``;
  token ``i = y W + x`` (``affinity.token_index``), tokens ``(B, N, C)`` (``affinity.map_to_tokens``).
- ``C``: channels, ``embed_dims[stage]`` of the config. ``M``: heads, ``num_heads``
  (16 in Container-Light, 4 in the zoo); head ``m`` owns channels ``[m C/M, (m+1) C/M)``.
- ``W_q, W_k, W_v``: ``conv1``, one ``1 x 1`` conv ``C -> 3C`` laid out ``[Q | K | V]``
  (split in three by ``chunk(3, dim=1)``); in a conv-only block (``CBlock``) ``conv1`` is ``W_v`` alone, ``C -> C``.
- ``V_m``: head ``m``'s channels of ``V``: ``Aggregation.values(x)``, ``AggregationRecord.v`` ``(B, N, C)``.
- ``A_m(X) = softmax(Q_m K_m^T / sqrt(C/M))``: ``affinity.attention``, ``MultiHeadSelfAttention``
  (named ``attn`` in ``MixBlock``), ``AggregationRecord.attention`` ``(B, M, N, N)``.
- ``A_c^conv`` and its bias ``b``: ``affinity.depthwise_conv(weight, H, W)`` of a ``DepthwiseConvAggregation``
  (named ``attn`` in ``CBlock``, ``conv`` in ``MixBlock``), ``AggregationRecord.conv_weight`` / ``.conv_bias``.
- ``A^mlp`` (static, dense): ``MultiHeadMLP.weight`` / ``TokenMixing.weight``, ``AggregationRecord.static_affinity``.
- ``alpha``, ``beta``: ``ContainerMix.alpha`` / ``.beta``; in Container-Light ``alpha = sigmoid(sa_weight)``,
  ``beta = 1 - alpha`` (``sa_weight``: ``MixBlock.sa_weight``, ``ContainerLightMix.sa_weight``);
  read with ``blend_weights()`` or ``AggregationRecord.alpha`` / ``.beta``, moved with ``override_blend``.
- ``concat(A_m V_m)``: a block's ``aggregate(...)``, ``AggregationRecord.aggregated``; its branches
  ``alpha A(X) V`` and ``beta (A^static V + b)`` are ``.dynamic_output()`` and ``.static_output()``.
- ``W_o``: ``conv2``. The rest of a block: ``pos_embed`` (``3 x 3`` depthwise conv, ``x += pos_embed(x)``),
  ``norm1`` (before the aggregation), ``norm2`` and ``mlp`` (``fc1``, GELU, ``fc2``) after it.
- Stages and blocks: ``patch_embed{s}`` then ``blocks{s}``. Container-Light: ``blocks1``-``blocks3`` are
  ``CBlock`` (conv only), ``blocks4`` ``MixBlock``, so ``blocks4.0`` is stage 4's first block (7 x 7 tokens at
  224 input). The zoo: ``blocks1`` conv only, ``blocks2`` the mixed stage, whose operator is ``blocks2.0.mix``.
"""

from container_edu.data.images import ImageError, load_image
from container_edu.device import default_device
from container_edu.hub.bundled import PretrainedError, list_pretrained, load_pretrained
from container_edu.hub.checkpoints import CheckpointError, load_official_checkpoint
from container_edu.models import MODEL_NAMES, create_model
from container_edu.ops import affinity
from container_edu.ops.aggregation import (
    ContainerLightMix,
    ContainerMix,
    DepthwiseConvAggregation,
    MultiHeadMLP,
    MultiHeadSelfAttention,
    TokenMixing,
)
from container_edu.record.api import WeightsNotInstalledError, available_models, describe, inspect
from container_edu.record.inspection import InspectError, Inspection
from container_edu.record.trace import AggregationRecord, override_blend, record_affinities

__all__ = [
    "affinity",
    "ContainerLightMix", "ContainerMix", "DepthwiseConvAggregation", "MultiHeadMLP", "MultiHeadSelfAttention",
    "TokenMixing",
    "CheckpointError", "load_official_checkpoint",
    "default_device",
    "ImageError", "load_image",
    "PretrainedError", "list_pretrained", "load_pretrained",
    "MODEL_NAMES", "create_model",
    "AggregationRecord", "override_blend", "record_affinities",
    "inspect", "describe", "available_models", "Inspection", "InspectError", "WeightsNotInstalledError",
    "figures",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    # ``container_edu.figures`` is imported on first use: Plotly is only needed once something is drawn.
    if name == "figures":
        import importlib

        return importlib.import_module(".figures", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
