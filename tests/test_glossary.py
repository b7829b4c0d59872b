"""The glossary (docs/glossary.md, linked from the README, and the package docstring) names code that exists and
means what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

import container_edu
from container_edu.ops import affinity
from container_edu.ops import aggregation
from container_edu.record import trace
from container_edu.ops.aggregation import DepthwiseConvAggregation, MultiHeadSelfAttention
from container_edu.models import AggregationBlock, CBlock, MixBlock, create_model
from container_edu.record.trace import record_affinities

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "docs" / "glossary.md"


def glossary_page() -> str:
    return GLOSSARY.read_text(encoding="utf-8")


def test_the_readme_links_the_glossary():
    assert "(docs/glossary.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("source", ["docs", "docstring"])
def test_every_record_attribute_function_and_class_the_glossary_names_exists(source):
    text = glossary_page() if source == "docs" else container_edu.__doc__
    record_names = set(re.findall(r"AggregationRecord\.(\w+)", text))
    record_names |= set(re.findall(r"`+\.(\w+)(?:\(\))?`+", text)) & set(dir(trace.AggregationRecord))
    assert {"grid", "num_tokens", "v", "attention", "conv_weight", "static_affinity", "aggregated",
            "dynamic_output", "static_output", "alpha"} <= record_names
    assert all(hasattr(trace.AggregationRecord, name) or name in trace.AggregationRecord.__dataclass_fields__
               for name in record_names), record_names
    for name in re.findall(r"affinity\.(\w+)", text):
        assert hasattr(affinity, name), name
    classes = set(re.findall(r"`([A-Z][A-Za-z]+)", text)) - {"X", "V", "W", "A", "C", "M", "N", "H", "B", "Q", "K"}
    assert {"MultiHeadSelfAttention", "DepthwiseConvAggregation", "MultiHeadMLP", "TokenMixing", "ContainerMix",
            "ContainerLightMix", "MixBlock", "CBlock", "AggregationRecord"} <= classes
    for name in classes:
        assert any(hasattr(module, name) for module in (aggregation, container_edu.models, trace)), name
    assert "override_blend" in text


def test_container_light_blocks_hold_the_named_parts():
    model = create_model("container_light", num_classes=10)
    assert all(isinstance(model.get_submodule(f"blocks{s}.0"), CBlock) for s in (1, 2, 3))
    block = model.get_submodule("blocks4.0")
    assert isinstance(block, MixBlock)
    dim = model.config.embed_dims[3]
    assert model.config.num_heads == 16
    assert (block.conv1.in_channels, block.conv1.out_channels, block.conv1.kernel_size) == (dim, 3 * dim, (1, 1))
    assert (block.conv2.in_channels, block.conv2.out_channels) == (dim, dim)  # W_o
    assert isinstance(block.attn, MultiHeadSelfAttention) and isinstance(block.conv, DepthwiseConvAggregation)
    assert isinstance(block.sa_weight, nn.Parameter)
    assert block.pos_embed.kernel_size == (3, 3) and block.pos_embed.groups == dim
    assert isinstance(block.norm1, nn.BatchNorm2d) and isinstance(block.norm2, nn.BatchNorm2d)
    assert isinstance(block.mlp.act, nn.GELU) and block.mlp.fc1.in_channels == dim
    conv_block = model.blocks1[0]
    assert conv_block.conv1.out_channels == conv_block.conv1.in_channels  # W_v alone
    assert isinstance(conv_block.attn, DepthwiseConvAggregation)
    with torch.no_grad(), record_affinities() as rec:
        model.eval()(torch.zeros(1, 3, 224, 224))
    assert rec["blocks4.0"].grid == (7, 7) and rec["blocks4.0"].num_heads == 16


def test_the_zoo_names_its_mixed_operator_mix():
    model = create_model("fmnist_container_light")
    assert isinstance(model.blocks1[0], CBlock)
    assert isinstance(model.get_submodule("blocks2.0"), AggregationBlock)
    assert model.get_submodule("blocks2.0.mix").num_heads == 4
