"""The three families as models: the registry, the configs, small test configs, input checks, the token-MLP math."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from container_edu.models import (
    FAMILY_LABELS,
    FAMILY_MODELS,
    ConvNeXt,
    ConvNeXtConfig,
    DeiT,
    DeiTConfig,
    MixerConfig,
    MlpMixer,
    ModelInputError,
    create_model,
)
from container_edu.ops import token_mlp
from tensor_checks import assert_close, randn


def test_family_models_are_named_as_the_contract_says():
    assert FAMILY_MODELS == ("deit_small", "convnext_tiny", "mixer_b16")
    assert FAMILY_LABELS == {"deit_small": "DeiT-Small/16 (attention)",
                             "convnext_tiny": "ConvNeXt-Tiny (depthwise conv)",
                             "mixer_b16": "MLP-Mixer-B/16 (token-mixing MLP)"}


@pytest.mark.parametrize(("name", "cls", "config"), [("deit_small", DeiT, DeiTConfig()),
                                                      ("convnext_tiny", ConvNeXt, ConvNeXtConfig()),
                                                      ("mixer_b16", MlpMixer, MixerConfig())])
def test_create_model_builds_the_default_config_as_a_frozen_dataclass(name, cls, config):
    model = create_model(name)
    assert isinstance(model, cls) and model.config == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.config.num_classes = 3


def test_the_defaults_are_timms_sizes():
    assert (DeiTConfig().embed_dim, DeiTConfig().depth, DeiTConfig().num_heads, DeiTConfig().grid) == (384, 12, 6,
                                                                                                        (14, 14))
    assert (ConvNeXtConfig().depths, ConvNeXtConfig().dims) == ((3, 3, 9, 3), (96, 192, 384, 768))
    mixer = create_model("mixer_b16")
    assert (len(mixer.blocks), mixer.grid) == (12, (14, 14))
    assert mixer.blocks[0].mlp_tokens.fc1.weight.shape == (384, 196)  # tokens MLP: 0.5 x 768 hidden units
    assert mixer.blocks[0].mlp_channels.fc1.weight.shape == (3072, 768)  # channels MLP: 4 x 768


@pytest.mark.parametrize(("name", "config", "size"), [
    ("deit_small", dict(depth=1, embed_dim=24, num_heads=2, img_size=(32, 64), num_classes=7), (32, 64)),
    ("convnext_tiny", dict(depths=(1, 1), dims=(8, 16), num_classes=7), (40, 56)),
    ("mixer_b16", dict(depth=1, embed_dim=16, img_size=(48, 32), num_classes=7), (48, 32)),
])
def test_small_configs_run_on_non_square_images(name, config, size):
    model = create_model(name, **config).eval()
    with torch.no_grad():
        assert model(randn(2, 3, *size, seed=1)).shape == (2, 7)


@pytest.mark.parametrize("name", ["deit_small", "mixer_b16"])
def test_a_wrong_image_size_is_refused_in_one_sentence(name):
    model = create_model(name, depth=1, embed_dim=24, img_size=32, **({"num_heads": 2} if name == "deit_small" else {}))
    with pytest.raises(ModelInputError, match=r"takes images of shape \(B, 3, 32, 32\); got \(1, 3, 48, 32\)") as info:
        model(torch.zeros(1, 3, 48, 32))
    assert info.value.template and info.value.fields["shape"] == (1, 3, 48, 32)
    with pytest.raises(ModelInputError):
        model(torch.zeros(1, 1, 32, 32))


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="bad config for 'deit_small'"):
        create_model("deit_small", widths=3)
    with pytest.raises(ValueError, match="does not divide"):
        create_model("deit_small", embed_dim=10, num_heads=3)
    with pytest.raises(ValueError, match="same length"):
        create_model("convnext_tiny", depths=(1, 1), dims=(8,))


# --- ops/token_mlp: the math the Mixer record uses ----------------------------------------------------------------

def test_gelu_derivative_is_exact_gelus_slope():
    z = torch.linspace(-6, 6, 241, dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(F.gelu(z).sum(), z)
    torch.testing.assert_close(token_mlp.gelu_derivative(z.detach()), slope)


def test_jacobian_norms_from_the_hidden_gram_equal_the_matrices():
    w1, w2, z = randn(7, 5, seed=2), randn(5, 7, seed=3), randn(4, 7, seed=4)
    jacobians = token_mlp.jacobian(z, w1, w2)  # (4, 5, 5)
    linear = token_mlp.linear_part(w1, w2)
    relative, shape = token_mlp.jacobian_differences(z, w1, w2)
    assert_close(relative.float(), token_mlp.relative_difference(jacobians, linear))
    assert_close(shape.float(), token_mlp.shape_difference(jacobians, linear), tol=1e-4)
    for k in range(4):
        assert_close(token_mlp.jacobian_row(z[k], w1, w2, 3), jacobians[k, 3])


def test_a_uniform_slope_only_rescales_the_linear_part():
    w1, w2 = randn(6, 4, seed=5), randn(4, 6, seed=6)
    z = torch.zeros(6)  # GELU'(0) = 0.5 for every hidden unit: J = W2 W1 / 2
    assert_close(token_mlp.jacobian(z, w1, w2), 0.5 * token_mlp.linear_part(w1, w2))
    relative, shape = token_mlp.jacobian_differences(z, w1, w2)
    assert abs(float(relative) - 0.5) < 1e-9 and float(shape) < 1e-6
    large = torch.full((6,), 30.0)  # GELU' = 1: the MLP is its linear part here
    assert float(token_mlp.jacobian_differences(large, w1, w2)[0]) < 1e-9
