"""The affinity explorer's computation (core, no Streamlit): every operator's explicit affinity reproduces it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from container_edu.analysis.explore import OPERATORS, ExplorerSpec, build, explore, head_choices, matrix_for_head



@pytest.mark.parametrize("operator", list(OPERATORS))
@pytest.mark.parametrize("grid", [(3, 3), (4, 7), (12, 5)])
def test_explorer_explicit_affinity_reproduces_every_module(operator, grid):
    result = explore(ExplorerSpec(operator=operator, height=grid[0], width=grid[1], channels=8, heads=2,
                                  kernel_size=5, alpha=0.3, beta=0.9, seed=7))
    assert result.passed, (result.max_abs_diff, result.max_abs_output)
    n = grid[0] * grid[1]
    assert result.matrices.shape[1:] == (n, n)
    assert result.row(0, (grid[0] - 1, grid[1] - 1)).shape == grid


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_explorer_blends_container_light_with_override_blend_and_leaves_sa_weight_alone(alpha):
    spec = ExplorerSpec(operator="container_light", height=3, width=4, channels=8, heads=2, kernel_size=3,
                        alpha=alpha, beta=0.123, seed=3)  # beta is 1 - alpha for Container-Light, whatever the spec says
    result = explore(spec)
    assert result.passed
    module, qkv = build(spec)
    assert module.sa_weight.item() == 0.0
    with torch.no_grad():
        attention = module.attn.affinity(qkv)[0]
        conv = module.conv.affinity(qkv[:, 16:])
    expected = alpha * attention + (1 - alpha) * conv.reshape(2, 4, 12, 12).mean(1)
    np.testing.assert_allclose(result.matrices, expected.double().numpy(), atol=1e-6)
    general = explore(ExplorerSpec(operator="container", height=3, width=4, channels=8, heads=2, alpha=alpha,
                                   beta=0.4, seed=3))
    module, qkv = build(general.spec)
    with torch.no_grad():
        expected = alpha * module.attn.affinity(qkv)[0] + 0.4 * module.static.affinity(qkv[:, 16:])
    np.testing.assert_allclose(general.matrices, expected.double().numpy(), atol=1e-6)


def test_explorer_attention_rows_sum_to_one_and_conv_rows_are_the_kernel():
    attention = explore(ExplorerSpec(operator="attention", height=4, width=5))
    np.testing.assert_allclose(attention.matrices.sum(-1), 1.0, atol=1e-6)
    conv = explore(ExplorerSpec(operator="conv", height=4, width=5, channels=4, kernel_size=3))
    module, _ = build(conv.spec)
    kernel = module.weight[0, 0].detach().double().numpy()
    np.testing.assert_allclose(conv.row(0, (2, 2))[1:4, 1:4], kernel, atol=1e-7)
    assert head_choices(12) == [1, 2, 3, 4, 6, 12]


def test_each_head_is_shown_by_its_own_matrix_and_a_conv_head_by_its_first_channel():
    attention = explore(ExplorerSpec(operator="attention", height=3, width=3, channels=8, heads=4))
    assert [matrix_for_head(attention, m) for m in range(4)] == [0, 1, 2, 3]
    conv = explore(ExplorerSpec(operator="conv", height=3, width=3, channels=8, heads=4))
    assert str(conv.matrix_labels[0]) == "channel 0" and [matrix_for_head(conv, m) for m in range(4)] == [0, 2, 4, 6]
    mixer = explore(ExplorerSpec(operator="mixer", height=3, width=3, channels=8, heads=4))
    assert mixer.matrices.shape[0] == 1 and matrix_for_head(mixer, 3) == 0


def test_explorer_code_does_not_import_streamlit():
    import ast
    from pathlib import Path

    import container_edu.analysis.explore as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert "streamlit" not in imported and "app" not in imported
