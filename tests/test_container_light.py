"""Tests for Container-Light (models.container_light) and the model registry (models.create_model)."""

from __future__ import annotations

import pytest
import torch

from container_edu.models import (
    MIXINGS,
    MODEL_NAMES,
    CBlock,
    ContainerLight,
    ContainerLightConfig,
    MixBlock,
    ZooContainer,
    blend_parameters,
    create_model,
)
from container_edu.models.container_light import reference_forward

from tensor_checks import assert_close, randn

#: What ``sum(p.numel() for p in create_model("container_light").parameters())`` gives: the paper's "20.6M".
CONTAINER_LIGHT_PARAMETERS = 20_633_643
DEPTHS = (3, 4, 8, 3)
DIMS = (64, 128, 320, 512)
MLP_RATIOS = (8, 8, 4, 4)
BATCH_NORM = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


@pytest.fixture(scope="module")
def model() -> ContainerLight:
    torch.manual_seed(0)
    return create_model("container_light").eval()


@pytest.fixture(scope="module")
def trained_looking(trained_looking_container_light) -> ContainerLight:
    """Random BatchNorm statistics and blend weights, as after training (see conftest.py)."""
    return trained_looking_container_light


def reference_state_dict_keys() -> set[str]:
    """The keys of the released checkpoint, written out from the reference module names."""
    keys = set()
    for stage in range(1, 5):
        keys |= {f"patch_embed{stage}.{part}.{p}" for part in ("proj", "norm") for p in ("weight", "bias")}
        for i in range(DEPTHS[stage - 1]):
            prefix = f"blocks{stage}.{i}"
            for conv in ("pos_embed", "conv1", "conv2", "mlp.fc1", "mlp.fc2", "attn" if stage < 4 else "conv"):
                keys |= {f"{prefix}.{conv}.weight", f"{prefix}.{conv}.bias"}
            keys |= {f"{prefix}.{norm}.{b}" for norm in ("norm1", "norm2") for b in BATCH_NORM}
            if stage == 4:
                keys.add(f"{prefix}.sa_weight")
    keys |= {f"norm.{b}" for b in BATCH_NORM}
    keys |= {"head.weight", "head.bias"}
    return keys


def test_parameter_count_is_the_papers_20_6_million(model):
    count = sum(p.numel() for p in model.parameters())
    assert count == CONTAINER_LIGHT_PARAMETERS
    assert 20_500_000 <= count <= 20_700_000


def test_state_dict_keys_are_the_reference_names(model):
    assert set(model.state_dict()) == reference_state_dict_keys()


def test_conv_blocks_name_their_depthwise_conv_attn_and_have_no_sa_weight(model):
    keys = set(model.state_dict())
    for stage in (1, 2, 3):
        for i in range(DEPTHS[stage - 1]):
            assert f"blocks{stage}.{i}.attn.weight" in keys
            assert f"blocks{stage}.{i}.sa_weight" not in keys
            assert f"blocks{stage}.{i}.conv.weight" not in keys
            assert isinstance(model.get_submodule(f"blocks{stage}.{i}"), CBlock)


def test_mixed_blocks_have_conv_and_sa_weight_and_a_parameter_free_attention(model):
    keys = set(model.state_dict())
    for i in range(3):
        assert {f"blocks4.{i}.conv.weight", f"blocks4.{i}.sa_weight"} <= keys
        assert not any(key.startswith(f"blocks4.{i}.attn.") for key in keys)
        assert isinstance(model.blocks4[i], MixBlock)
        assert model.blocks4[i].sa_weight.item() == 0.0  # the reference initialises it to 0


def test_state_dict_shapes_match_the_reference(model):
    shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert shapes["patch_embed1.proj.weight"] == (64, 3, 4, 4)
    for stage in (2, 3, 4):
        dim, previous = DIMS[stage - 1], DIMS[stage - 2]
        assert shapes[f"patch_embed{stage}.proj.weight"] == (dim, previous, 2, 2)
        assert shapes[f"patch_embed{stage}.norm.weight"] == (dim,)
    for stage in (1, 2, 3, 4):
        dim, hidden = DIMS[stage - 1], int(DIMS[stage - 1] * MLP_RATIOS[stage - 1])
        prefix = f"blocks{stage}.0"
        assert shapes[f"{prefix}.pos_embed.weight"] == (dim, 1, 3, 3)
        assert shapes[f"{prefix}.conv1.weight"] == ((3 * dim if stage == 4 else dim), dim, 1, 1)
        assert shapes[f"{prefix}.conv2.weight"] == (dim, dim, 1, 1)
        assert shapes[f"{prefix}.{'conv' if stage == 4 else 'attn'}.weight"] == (dim, 1, 5, 5)
        assert shapes[f"{prefix}.mlp.fc1.weight"] == (hidden, dim, 1, 1)
        assert shapes[f"{prefix}.mlp.fc2.weight"] == (dim, hidden, 1, 1)
    assert shapes["blocks4.0.conv1.weight"] == (1536, 512, 1, 1)
    assert shapes["blocks4.2.sa_weight"] == (1,)
    assert shapes["norm.running_var"] == (512,)
    assert shapes["head.weight"] == (1000, 512)


def test_a_reference_style_checkpoint_loads_strictly(model):
    checkpoint = {"model": {key: value.clone() for key, value in model.state_dict().items()}, "epoch": 299}
    fresh = create_model("container_light")
    assert not fresh.load_state_dict(checkpoint["model"], strict=True).missing_keys
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, checkpoint["model"][key]), key


@pytest.mark.parametrize("shape", [(2, 3, 224, 224), (1, 3, 96, 128)], ids=["224x224", "96x128"])
def test_fast_forward_equals_reference_forward_in_eval_mode(trained_looking, shape):
    x = randn(*shape, seed=2)
    with torch.no_grad():
        fast = trained_looking(x)
    expected = reference_forward(trained_looking, x)
    assert fast.shape == (shape[0], 1000)
    assert_close(fast, expected)


def test_reference_forward_depends_on_sa_weight(trained_looking):
    # guards the comparison above: the reference does use the blend weight
    x = randn(1, 3, 64, 64, seed=3)
    before = reference_forward(trained_looking, x)
    original = trained_looking.blocks4[0].sa_weight.detach().clone()
    try:
        with torch.no_grad():
            trained_looking.blocks4[0].sa_weight.add_(3.0)
        moved = reference_forward(trained_looking, x)
        with torch.no_grad():
            assert_close(trained_looking(x), moved)
    finally:
        with torch.no_grad():
            trained_looking.blocks4[0].sa_weight.copy_(original)
    assert not torch.allclose(before, moved, atol=1e-4)


def test_forward_features_downsample_by_32(model):
    with torch.no_grad():
        features = model.forward_features(randn(1, 3, 96, 160, seed=4))
    assert features.shape == (1, 512, 3, 5)


def test_record_names_are_the_module_paths(model):
    names = [name for name, module in model.named_modules() if isinstance(module, (CBlock, MixBlock))]
    assert len(names) == sum(DEPTHS)
    for name in names:
        assert model.get_submodule(name).record_name == name


def test_blend_parameters_lists_the_mixed_blocks_at_one_half(model):
    weights = blend_parameters(model)
    assert list(weights) == ["blocks4.0", "blocks4.1", "blocks4.2"]
    assert all(w == (0.5, 0.5) for w in weights.values())


# ------------------------------------------------------------------------------------------- registry


def test_model_names_are_container_light_the_three_families_and_the_fmnist_zoo():
    assert set(MODEL_NAMES) == ({"container_light", "deit_small", "convnext_tiny", "mixer_b16"}
                                | {f"fmnist_{mixing}" for mixing in MIXINGS})
    assert MIXINGS == ("attention", "conv", "mixer", "container", "container_light")


@pytest.mark.parametrize("mixing", MIXINGS)
def test_create_model_builds_each_zoo_variant(mixing):
    zoo = create_model(f"fmnist_{mixing}")
    assert isinstance(zoo, ZooContainer)
    assert zoo.config.mixing == mixing
    with torch.no_grad():
        assert zoo.eval()(randn(2, 1, 28, 28, seed=5)).shape == (2, 10)


def test_create_model_applies_config_overrides():
    small = create_model("container_light", depths=(1, 1, 1, 1), num_classes=10)
    assert isinstance(small, ContainerLight)
    assert small.config == ContainerLightConfig(depths=(1, 1, 1, 1), num_classes=10)
    assert small.head.out_features == 10
    assert len(small.blocks3) == 1
    assert create_model("fmnist_conv", num_classes=3).head.out_features == 3


def test_create_model_rejects_an_unknown_name_and_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'resnet50'") as info:
        create_model("resnet50")
    for name in MODEL_NAMES:
        assert name in str(info.value)


def test_create_model_rejects_an_unknown_config_field():
    with pytest.raises(ValueError, match="bad config for 'container_light'"):
        create_model("container_light", widths=(1, 2, 3, 4))
    with pytest.raises(ValueError, match="bad config for 'fmnist_attention'"):
        create_model("fmnist_attention", mixing="conv")


def test_create_model_rejects_an_inconsistent_zoo_config():
    with pytest.raises(ValueError, match="must divide"):
        create_model("fmnist_attention", num_heads=5)
    with pytest.raises(ValueError, match="not divisible by the total stride"):
        create_model("fmnist_conv", img_size=30)
