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
from .device import default_device
from .models import MODEL_NAMES, create_model
from .trace import AggregationRecord, override_blend, record_affinities

__all__ = [
    "affinity",
    "ContainerLightMix", "ContainerMix", "DepthwiseConvAggregation", "MultiHeadMLP", "MultiHeadSelfAttention",
    "TokenMixing",
    "default_device",
    "MODEL_NAMES", "create_model",
    "AggregationRecord", "override_blend", "record_affinities",
]
__version__ = "0.1.0"
