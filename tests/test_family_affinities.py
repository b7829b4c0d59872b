"""Every block's explicit affinity, as record_family keeps it, equals what the block's own module computed.

The module's output is caught with forward hooks on the real pass (test-only), so the explicit rebuild is held
to the fast path (fused attention, ``nn.Conv2d``, the token MLP) and not to a second copy of the same formula.
Small random configs on non-square grids check every block and every query; one full-size pass per model checks
every block at 224.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from container_edu.models import create_model
from container_edu.ops import token_mlp
from container_edu.record.families import (
    AttentionBlockRecord,
    DepthwiseBlockRecord,
    FamilyRecordError,
    TokenMixingBlockRecord,
    record_family,
)
from tensor_checks import assert_close

SMALL_DEIT = dict(depth=3, embed_dim=48, num_heads=3, img_size=(48, 80))  # 3 x 5 patches, non-square
SMALL_CONVNEXT = dict(depths=(2, 1, 2), dims=(8, 16, 24), ls_init_value=0.5)  # grids follow the input
SMALL_MIXER = dict(depth=3, embed_dim=32, img_size=(64, 48))  # 4 x 3 tokens, non-square
CONVNEXT_INPUT = (2, 3, 76, 100)  # stem -> 19 x 25, then 9 x 12, 4 x 6: odd sizes, borders on every side


def _randomise(model: nn.Module, seed: int) -> nn.Module:
    """Every parameter random at unit-ish scale (biases and norms too), so no term hides behind a zero init."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if parameter.dim() == 1:
                parameter.copy_((1.0 if name.endswith(("norm.weight", "1.weight", "2.weight", "gamma")) else 0.0)
                                + 0.2 * noise)
            else:
                parameter.copy_(noise / parameter[0].numel() ** 0.5)
    return model.eval()


def _caught(model: nn.Module, kind: type[nn.Module] | str, x: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
    """Input and output of every submodule matched by ``kind`` (a class, or a name's last part) in ``model(x)``."""
    caught: dict[str, tuple[Tensor, Tensor]] = {}
    handles = []
    for name, module in model.named_modules():
        if (isinstance(kind, str) and name.rsplit(".", 1)[-1] == kind) or (isinstance(kind, type) and
                                                                         isinstance(module, kind)):
            block = name.rsplit(".", 1)[0]
            handles.append(module.register_forward_hook(
                lambda _m, args, out, block=block: caught.__setitem__(block, (args[0].detach(), out.detach()))))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return caught


def _grid_queries(height: int, width: int, full: bool) -> list[tuple[int, int]]:
    if full:
        return [(y, x) for y in range(height) for x in range(width)]
    ys, xs = (0, 1, height // 2, height - 2, height - 1), (0, 1, width // 2, width - 2, width - 1)
    return sorted({(y, x) for y in ys for x in xs})  # corners, borders, next to them, the centre


# --- DeiT: attention --------------------------------------------------------------------------------------------

def _check_deit(model: nn.Module, x: Tensor) -> None:
    recording = record_family(model, x)
    caught = _caught(model, "attn", x)
    with torch.no_grad():
        assert_close(recording.logits, model(x))
    assert list(recording) == [f"blocks.{i}" for i in range(model.config.depth)] == list(caught)
    height, width = model.grid
    for name, record in recording.items():
        assert isinstance(record, AttentionBlockRecord) and record.kind == "attention" and not record.static
        tokens = 1 + height * width
        assert record.attention.shape == (x.shape[0], model.config.num_heads, tokens, tokens)
        # A V concatenated and projected is the attention module's output (the fused path) at every token.
        assert_close(record.explicit_output(), caught[name][1])
        torch.testing.assert_close(record.attention.sum(-1), torch.ones(record.attention.shape[:-1]))
        for head in range(record.num_heads):
            for query in _grid_queries(height, width, full=True):
                row = record.row(query, head, batch_index=1)
                assert row.shape == (height, width)
                token = 1 + query[0] * width + query[1]
                torch.testing.assert_close(row.flatten(), record.attention[1, head, token, 1:])
                assert abs(record.class_weight(query, head, 1) + float(row.sum()) - 1.0) < 1e-5
            assert record.class_row(head).shape == (height, width)


def test_deit_attention_equals_the_module_on_a_non_square_grid_every_block():
    _check_deit(_randomise(create_model("deit_small", **SMALL_DEIT), seed=1), torch.randn(2, 3, 48, 80))


def test_deit_attention_equals_the_module_at_full_size_every_block():
    _check_deit(_randomise(create_model("deit_small"), seed=2), torch.randn(2, 3, 224, 224))


def test_deit_rows_change_with_the_image():
    model = _randomise(create_model("deit_small", **SMALL_DEIT), seed=3)
    first, second = (record_family(model, torch.randn(1, 3, 48, 80)) for _ in range(2))
    assert (first["blocks.1"].row((1, 2), 0) - second["blocks.1"].row((1, 2), 0)).abs().max() > 1e-3


# --- ConvNeXt: depthwise conv -----------------------------------------------------------------------------------

def _check_convnext(model: nn.Module, x: Tensor, every_query: bool) -> list[tuple[int, int]]:
    recording = record_family(model, x)
    caught = _caught(model, "conv_dw", x)
    assert list(recording) == list(caught)
    grids = []
    for name, record in recording.items():
        assert isinstance(record, DepthwiseBlockRecord) and record.kind == "depthwise" and record.static
        conv_input, conv_output = caught[name]
        torch.testing.assert_close(record.v, conv_input, rtol=0, atol=0)
        assert_close(record.output(), conv_output)
        height, width = record.grid
        grids.append(record.grid)
        for query in _grid_queries(height, width, full=every_query):
            row = record.row(query)
            assert row.shape == (record.num_channels, height, width)  # never N x N
            assert_close(record.explicit_output_at(query), conv_output[:, :, query[0], query[1]])
    return grids


def test_convnext_kernel_rows_equal_conv_dw_at_every_query_of_every_block_non_square():
    model = _randomise(create_model("convnext_tiny", **SMALL_CONVNEXT), seed=4)
    grids = _check_convnext(model, torch.randn(*CONVNEXT_INPUT), every_query=True)
    assert grids == [(19, 25), (19, 25), (9, 12), (4, 6), (4, 6)]


def test_convnext_kernel_rows_equal_conv_dw_at_full_size_every_block():
    model = _randomise(create_model("convnext_tiny"), seed=5)
    grids = _check_convnext(model, torch.randn(1, 3, 224, 224), every_query=False)
    assert grids == [(56, 56)] * 3 + [(28, 28)] * 3 + [(14, 14)] * 9 + [(7, 7)] * 3


def test_convnext_row_is_the_kernel_cut_at_a_corner():
    model = _randomise(create_model("convnext_tiny", **SMALL_CONVNEXT), seed=6)
    record = record_family(model, torch.randn(1, 3, 76, 100))["stages.0.blocks.0"]
    row = record.row((0, 0))
    kernel = record.weight[:, 0]  # (C, 7, 7); the query sits on tap (3, 3)
    torch.testing.assert_close(row[:, :4, :4], kernel[:, 3:, 3:])
    assert row[:, 4:, :].abs().max() == 0 and row[:, :, 4:].abs().max() == 0
    assert record.row((5, 5)).eq(record.row(5 * 25 + 5)).all()  # a token index is the same query


# --- MLP-Mixer: token-mixing MLP --------------------------------------------------------------------------------

def _check_mixer(model: nn.Module, x: Tensor, channels: list[int] | None) -> None:
    recording = record_family(model, x)
    caught = _caught(model, "mlp_tokens", x)
    assert list(recording) == list(caught)
    height, width = model.grid
    for name, record in recording.items():
        assert isinstance(record, TokenMixingBlockRecord) and record.kind == "token_mlp"
        mlp_input, mlp_output = caught[name]  # (B, C, N) each
        torch.testing.assert_close(record.u.transpose(1, 2), mlp_input, rtol=0, atol=0)
        assert_close(record.output(), mlp_output.transpose(1, 2))
        mlp = model.get_submodule(name).mlp_tokens
        # The linear part is the MLP with its GELU taken out: W2 W1 u + (W2 b1 + b2).
        u = mlp_input[0, 0]
        with torch.no_grad():
            assert_close(record.linear_part() @ u + record.linear_offset(), mlp.fc2(mlp.fc1(u)))
        for query in ((0, 0), (height - 1, width - 1), (height // 2, 1)):
            token = query[0] * width + query[1]
            torch.testing.assert_close(record.linear_row(query).flatten(), record.linear_part()[token])
        for channel in channels if channels is not None else range(record.num_channels):
            for batch_index in range(x.shape[0]):
                expected = torch.autograd.functional.jacobian(mlp, mlp_input[batch_index, channel], vectorize=True)
                jacobian = record.jacobian(channel, batch_index)
                assert_close(jacobian, expected)
                for query in ((0, 0), (height - 1, width - 1), (height // 2, width // 2)):
                    row = record.jacobian_row(query, channel, batch_index)
                    assert row.shape == (height, width)
                    assert_close(row.flatten(), expected[query[0] * width + query[1]])
        relative, shape = record.jacobian_vs_linear()
        assert relative.shape == shape.shape == (record.num_channels,)
        some = channels if channels is not None else list(range(record.num_channels))
        jacobians = torch.stack([record.jacobian(c).double() for c in some])
        linear = record.linear_part().double()
        assert_close(relative[some], token_mlp.relative_difference(jacobians, linear))
        assert_close(shape[some], token_mlp.shape_difference(jacobians, linear), tol=1e-4)


def test_mixer_jacobian_and_linear_part_match_autograd_every_block_non_square():
    model = _randomise(create_model("mixer_b16", **SMALL_MIXER), seed=7)
    _check_mixer(model, torch.randn(2, 3, 64, 48), channels=None)


def test_mixer_jacobian_matches_autograd_at_full_size_every_block():
    model = _randomise(create_model("mixer_b16"), seed=8)
    _check_mixer(model, torch.randn(1, 3, 224, 224), channels=[0, 767])


def test_mixer_jacobian_depends_on_the_image_and_the_channel_but_the_linear_part_does_not():
    model = _randomise(create_model("mixer_b16", **SMALL_MIXER), seed=9)
    first, second = (record_family(model, torch.randn(1, 3, 64, 48))["blocks.1"] for _ in range(2))
    torch.testing.assert_close(first.linear_part(), second.linear_part(), rtol=0, atol=0)
    assert (first.jacobian(0) - second.jacobian(0)).abs().max() > 1e-3
    assert (first.jacobian(0) - first.jacobian(1)).abs().max() > 1e-3
    relative, _ = first.jacobian_vs_linear()
    assert (relative > 0.01).all()  # with a GELU in between, nowhere is the MLP its linear part
    assert first.linear_gap() == pytest.approx(float(relative.median()))


def test_records_name_their_kind_in_the_kinds_registry():
    from container_edu.ops.kinds import KINDS

    kinds = {record_cls.aggregation_kind for record_cls in (AttentionBlockRecord, DepthwiseBlockRecord,
                                                            TokenMixingBlockRecord)}
    assert kinds == {"attention", "conv", "mixer"} and kinds <= set(KINDS)


# --- the recording as a whole ------------------------------------------------------------------------------------

def test_record_family_refuses_other_models_and_bad_queries():
    with pytest.raises(FamilyRecordError, match="DeiT, ConvNeXt or MlpMixer"):
        record_family(nn.Linear(2, 2), torch.randn(1, 2))
    recording = record_family(create_model("mixer_b16", **SMALL_MIXER).eval(), torch.randn(1, 3, 64, 48))
    with pytest.raises(FamilyRecordError, match="no block"):
        recording["stages.0.blocks.0"]
    with pytest.raises(FamilyRecordError, match="outside"):
        recording["blocks.0"].linear_row((4, 0))
    with pytest.raises(FamilyRecordError, match="channel must be an integer from 0 to 31"):
        recording["blocks.0"].jacobian(32)
    deit = record_family(create_model("deit_small", **SMALL_DEIT).eval(), torch.randn(1, 3, 48, 80))
    with pytest.raises(FamilyRecordError, match="head"):
        deit["blocks.0"].row((0, 0), head=3)
