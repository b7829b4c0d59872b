"""The three families' recordings adapted for the Image inspector (``container_edu.record.family_inspection``).

Every adapted row must equal ``record_family``'s own (which fam-models checks against the modules), and where an
adapted record holds values, ``aggregated`` must be ``A V`` and equal the module's own output (forward hooks). Small
random configs on non-square grids; every block, every head, queries at the corners and inside.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from container_edu.models import create_model
from container_edu.record.families import record_family
from container_edu.record.family_inspection import CLASS_TOKENS, adapt_block, family_records, inspect_family
from container_edu.record.inspection import block_maps, head_matrix
from tensor_checks import assert_close

#: Small configs, non-square inputs (DeiT and Mixer: the grid is fixed by img_size; ConvNeXt follows the input).
SMALL = {
    "deit_small": ({"embed_dim": 48, "depth": 2, "num_heads": 3, "img_size": (64, 96)}, (64, 96)),
    "convnext_tiny": ({"depths": (1, 1, 1, 1), "dims": (8, 16, 24, 32)}, (70, 100)),
    "mixer_b16": ({"embed_dim": 32, "depth": 2, "img_size": (48, 80)}, (48, 80)),
}


def _model_and_input(name: str, seed: int = 0):
    config, size = SMALL[name]
    torch.manual_seed(seed)
    model = create_model(name, **config).eval()
    return model, torch.randn(2, 3, *size)


def _queries(grid: tuple[int, int]) -> list[tuple[int, int]]:
    height, width = grid
    return [(0, 0), (0, width - 1), (height - 1, 0), (height - 1, width - 1), (height // 2, width // 2)]


def _outputs(model, x, module_names: list[str]) -> dict[str, torch.Tensor]:
    """Each named module's output in one real forward pass (the reference the records must equal)."""
    found, handles = {}, []
    modules = dict(model.named_modules())
    for name in module_names:
        handles.append(modules[name].register_forward_hook(
            lambda _m, _i, out, name=name: found.__setitem__(name, out.detach())))
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return found


def test_deit_blocks_are_attention_over_the_patches_with_the_class_token_kept():
    model, x = _model_and_input("deit_small")
    recording = record_family(model, x)
    adapted = family_records(recording, keep_values=True)
    outputs = _outputs(model, x, [f"{name}.attn" for name in recording])
    assert list(adapted) == list(recording)
    for name, block in recording.items():
        record = adapted[name]
        assert (record.kind, record.grid, record.num_heads, record.prefix_tokens) == ("attention", (4, 6), 3, 1)
        assert record.attention.shape == (2, 3, 1 + 24, 1 + 24)
        for batch_index in range(2):
            for query in _queries(record.grid):
                rows = record.attention_row(query, batch_index)
                share = record.prefix_share(query, batch_index)
                for head in range(3):
                    assert torch.equal(rows[head], block.row(query, head, batch_index))
                    assert float(share[head]) == pytest.approx(block.class_weight(query, head, batch_index), abs=0)
                # The map leaves out the class token: with its share, each row is a whole softmax row.
                assert_close(rows.sum((-2, -1)) + share, torch.ones(3))
        for head in range(3):
            matrix = record.attention_matrix(head)
            assert matrix.shape == (24, 24)
            assert torch.equal(matrix[7], record.attention_row(7)[head].reshape(-1))
        # aggregated = concat_m(A_m V_m) over all 1 + N tokens, and W_o of it is the attention module's output.
        assert record.aggregated.shape == (2, 1 + 24, 48)
        assert_close(record.dynamic_output(), record.aggregated)
        per_channel = record.blended_channel_matrices()  # (C, N, N): each channel its head's patch block
        assert per_channel.shape == (48, 24, 24)
        assert torch.equal(per_channel[16 + 5], record.attention[0, 1, 1:, 1:])  # 16 channels per head
        slim = adapt_block(block)  # the app's form: no values, so no output is claimed from it
        assert slim.v.shape[1] == 0 and slim.static_output() is None
        with pytest.raises(ValueError, match="without its values"):
            slim.dynamic_output()
        attn = model.get_submodule(f"{name}.attn")
        assert_close(F.linear(record.aggregated, attn.proj.weight, attn.proj.bias), outputs[f"{name}.attn"])


def test_convnext_blocks_are_their_depthwise_kernels_and_equal_the_conv():
    model, x = _model_and_input("convnext_tiny")
    recording = record_family(model, x)
    adapted = family_records(recording, keep_values=True)
    outputs = _outputs(model, x, [f"{name}.conv_dw" for name in recording])
    grids = [record.grid for record in adapted.values()]
    assert grids == [(17, 25), (8, 12), (4, 6), (2, 3)]
    for name, block in recording.items():
        record = adapted[name]
        assert (record.kind, record.num_heads, record.attention) == ("conv", 1, None)
        for query in _queries(record.grid):
            static = record.static_row(query)
            assert torch.equal(static, block.row(query))  # (C, H, W): each channel's kernel, cut at the border
            assert_close(record.static_head_row(query)[0], static.mean(0))
        expected = outputs[f"{name}.conv_dw"].flatten(2).transpose(1, 2)  # (B, N, C)
        assert_close(record.aggregated, expected)
        assert_close(record.static_output(), record.aggregated)


def test_mixer_blocks_show_the_linear_part_and_claim_no_output():
    model, x = _model_and_input("mixer_b16")
    recording = record_family(model, x)
    adapted = family_records(recording, keep_values=True)  # a Mixer record keeps no values even when asked
    for name, block in recording.items():
        record = adapted[name]
        assert (record.kind, record.grid, record.num_heads, record.attention) == ("mixer", (3, 5), 1, None)
        assert torch.equal(record.static_matrix(0), block.linear_part())
        for query in _queries(record.grid):
            assert_close(record.static_row(query)[0], block.linear_row(query))
            # Honest about the gap: the exact map of a channel at this image is the Jacobian, not W2 W1.
            assert not torch.allclose(block.jacobian_row(query, 0), block.linear_row(query))
        assert record.v.shape[1] == record.aggregated.shape[1] == 0
        with pytest.raises(ValueError, match="without its values"):
            record.static_output()


@pytest.mark.parametrize("name", list(SMALL))
def test_inspect_family_predicts_as_the_model_and_every_block_gives_maps(name):
    model, x = _model_and_input(name, seed=1)
    x = x[:1]
    inspection = inspect_family(model, x)
    with torch.no_grad():
        expected = model(x).softmax(-1)[0].numpy()
    np.testing.assert_allclose(inspection.probabilities, expected, rtol=1e-5, atol=1e-7)
    assert inspection.family == name and inspection.input_shape == tuple(x.shape)
    recording = record_family(model, x)
    assert inspection.blocks == list(recording)
    for block in inspection.blocks:
        record = inspection.records[block]
        assert record.v.shape[1] == 0 and record.aggregated.shape[1] == 0  # slim, as the app caches them
        assert all(t is None or t.device.type == "cpu" for t in (record.attention, record.conv_weight,
                                                                record.static_affinity))
        for query in _queries(record.grid):
            for head in range(record.num_heads):
                maps = block_maps(inspection, block, head, query)
                expected_row = (recording[block].row(query, head) if name == "deit_small" else
                                recording[block].row(query).mean(0) if name == "convnext_tiny" else
                                recording[block].linear_row(query))
                drawn = maps.attention if name == "deit_small" else maps.static
                np.testing.assert_allclose(drawn, expected_row.double().numpy(), atol=1e-6)
                np.testing.assert_allclose(maps.blended, drawn, atol=1e-6)
                matrix = head_matrix(inspection, block, head, maps.parts[0])
                y, x_ = query
                np.testing.assert_allclose(matrix[y * record.grid[1] + x_], drawn.reshape(-1), atol=1e-6)
    figure = inspection.figure(inspection.blocks[-1], (0, 0), head=0)  # the notebook's drawing works too
    assert figure.data


def test_adapt_block_refuses_what_is_not_a_family_block():
    with pytest.raises(TypeError, match="not a family block record"):
        adapt_block(object())
    assert CLASS_TOKENS == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", list(SMALL))
def test_inspect_family_on_cuda_matches_the_cpu(name):
    """The adapted inspection of a model on the GPU is on the CPU (what the app caches) and within 1e-4 of the CPU's."""
    from container_edu.device import default_device

    model, x = _model_and_input(name, seed=2)
    x = x[:1]
    on_cpu = inspect_family(model, x)
    on_gpu = inspect_family(model.to(default_device("cuda")), x)
    np.testing.assert_allclose(on_gpu.probabilities, on_cpu.probabilities, atol=1e-4)
    for block in on_cpu.blocks:
        gpu, cpu = on_gpu.records[block], on_cpu.records[block]
        for query in _queries(cpu.grid):
            expected, got = block_maps(on_cpu, block, 0, query), block_maps(on_gpu, block, 0, query)
            np.testing.assert_allclose(got.blended_heads, expected.blended_heads, atol=1e-4)
        if cpu.prefix_tokens:
            assert_close(gpu.prefix_share((0, 0)), cpu.prefix_share((0, 0)), tol=1e-4)
