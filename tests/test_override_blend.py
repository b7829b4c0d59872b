"""``override_blend``, the one way to move a blend: by block path, by block module, or by a standalone mix."""

from __future__ import annotations

import copy

import pytest
import torch

from container_edu.ops.aggregation import ContainerLightMix, ContainerMix, MultiHeadMLP
from container_edu.models import AggregationBlock, MixBlock, blend_parameters, create_model
from container_edu.record.trace import override_blend, record_affinities

from tensor_checks import assert_close, randn


@pytest.fixture(scope="module")
def small_container_light():
    torch.manual_seed(0)
    model = create_model("container_light", embed_dims=(8, 16, 24, 32), depths=(1, 1, 1, 2), num_heads=4,
                         num_classes=5).eval()
    with torch.no_grad():
        model.blocks4[0].sa_weight.fill_(0.7)
        model.blocks4[1].sa_weight.fill_(-0.4)
    return model


def test_a_block_module_is_a_target_like_its_path(small_container_light):
    model = small_container_light
    x = randn(2, 3, 64, 96, seed=1)
    with torch.no_grad():
        with override_blend({"blocks4.1": (0.2, 0.9)}):
            by_path = model(x)
        with override_blend({model.blocks4[1]: (0.2, 0.9)}):
            by_module = model(x)
            with record_affinities() as rec:
                recorded = model(x)
        plain = model(x)
    assert torch.equal(by_path, by_module)
    assert_close(recorded, by_module)
    assert not torch.allclose(by_module, plain, atol=1e-5)
    assert (rec["blocks4.1"].alpha, rec["blocks4.1"].beta) == (0.2, 0.9)
    assert rec["blocks4.0"].alpha == pytest.approx(torch.sigmoid(torch.tensor(0.7)).item())


def test_overriding_a_mix_block_equals_setting_sa_weight_on_a_copy(small_container_light):
    model = small_container_light
    x = randn(1, 3, 64, 64, seed=2)
    edited = copy.deepcopy(model)
    alpha = 0.8
    with torch.no_grad():
        edited.blocks4[0].sa_weight.fill_(torch.logit(torch.tensor(alpha)).item())
        expected = edited(x)
        with override_blend({model.blocks4[0]: alpha}):
            got = model(x)
    assert_close(got, expected)
    assert model.blocks4[0].sa_weight.item() == pytest.approx(0.7)  # untouched


@pytest.mark.parametrize("mixing", ["container", "container_light"])
def test_a_zoo_block_passes_its_override_to_its_mix(mixing):
    torch.manual_seed(0)
    model = create_model("fmnist_" + mixing).eval()
    x = randn(2, 1, 28, 28, seed=3)
    block = model.blocks2[0]
    assert isinstance(block, AggregationBlock)
    with torch.no_grad():
        with override_blend({"blocks2.0": (1.0, 0.0)}):
            first = model(x)
            with record_affinities() as by_path:
                assert_close(model(x), first)
        with override_blend({block: (1.0, 0.0)}):
            second = model(x)
        with override_blend({block.mix: (1.0, 0.0)}):
            third = model(x)
    assert torch.equal(first, second) and torch.equal(first, third)
    assert (by_path["blocks2.0"].alpha, by_path["blocks2.0"].beta) == (1.0, 0.0)
    assert by_path["blocks2.1"].alpha == pytest.approx(blend_parameters(model)["blocks2.1"][0])


def test_a_standalone_mix_follows_an_override_of_itself_in_every_method():
    torch.manual_seed(4)
    light = ContainerLightMix(8, 2, 3)
    general = ContainerMix(2, MultiHeadMLP(15, 2))
    for mix, blend, expected in ((light, 0.3, (0.3, 0.7)), (general, (0.3, 1.5), (0.3, 1.5))):
        qkv = randn(2, 24, 3, 5, seed=5)
        v = qkv.chunk(3, dim=1)[2]
        with torch.no_grad(), override_blend({mix: blend}):
            assert mix.blend() == expected
            assert_close(mix(qkv), expected[0] * mix.attn(qkv) + expected[1] * mix.static(v))
            assert_close(mix.explicit(qkv)[0], mix(qkv))
            assert_close(mix.affinity(qkv)[0, 0], expected[0] * mix.attn.affinity(qkv)[0, 0]
                         + expected[1] * mix.static.affinity(v)[0])
        assert all(torch.equal(a, b) for a, b in zip(mix.blend(), mix.blend_weights()))  # learned again on exit


def test_mix_block_has_no_mix_methods_of_its_own_only_the_reference_keys():
    block = MixBlock(16, 4)
    keys = list(block.state_dict())
    assert keys[:3] == ["sa_weight", "conv.weight", "conv.bias"]
    assert {"attn", "conv", "pos_embed", "norm1", "conv1", "conv2", "norm2", "mlp"} == {n for n, _ in
                                                                                     block.named_children()}
    assert not isinstance(block, ContainerLightMix)


@pytest.mark.parametrize("target", [3, None, ("blocks4.0",), torch.zeros(1)])
def test_a_target_that_is_neither_a_path_nor_a_module_is_refused(target):
    with pytest.raises(ValueError, match="names a block path or a module"):
        with override_blend({target: 0.5}):
            pass


@pytest.mark.parametrize("weight", ["ab", (0.1, 0.2, 0.3), (0.1,), None, [0.2, 0.8]])
def test_a_malformed_weight_is_refused_with_a_message(weight):
    with pytest.raises(ValueError, match="alpha or a pair"):
        with override_blend({"blocks4.0": weight}):
            pass
