"""container_edu: the unified view of context aggregation from the Container paper, made explicit.

Self-attention, depthwise convolution and MLP-Mixer token mixing are one
operation, ``Y = concat(A_1 V_1, ..., A_M V_M) W_o``, that differ in how the
affinity ``A_m`` is made. ``container_edu.affinity`` builds each ``A_m``;
``container_edu.aggregation`` holds the operators as modules; ``models``
holds Container-Light and a small zoo; ``record_affinities()`` shows what a
network aggregated.
"""

from . import affinity
from .aggregation import (
    ContainerLightMix,
    ContainerMix,
    DepthwiseConvAggregation,
    MultiHeadMLP,
    MultiHeadSelfAttention,
    TokenMixing,
)
from .checkpoints import CheckpointError, load_official_checkpoint
from .device import default_device
from .images import ImageError, load_image
from .models import MODEL_NAMES, create_model
from .pretrained import PretrainedError, list_pretrained, load_pretrained
from .trace import AggregationRecord, override_blend, record_affinities

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
]
__version__ = "0.1.0"
