"""Smoke tests for ``python -m container_edu bench``."""

from __future__ import annotations

import re

import pytest
import torch

from container_edu.__main__ import build_parser, main
from container_edu.training.bench import LargestAllocation

CORE_ROWS = [
    ("attention", "attention()+aggregate()", "F.scaled_dot_product_attention"),
    ("depthwise conv", "C=64 k=5", "depthwise_conv()+aggregate()"),
    ("depthwise conv", "C=64 k=5", "aggregate(), A prebuilt"),
    ("depthwise conv", "C=512 k=5", "depthwise_conv()+aggregate()"),
    ("depthwise conv", "C=512 k=5", "aggregate(), A prebuilt"),
    ("mixer (M=1)", "aggregate()", "torch.matmul(A, V)"),
    ("conv row (1 query)", "N=3136 (56x56) C=64", "depthwise_conv_row()"),
]


def table_lines(output: str, title: str) -> list[str]:
    """The lines of the table printed under ``title``: header, rule, rows."""
    lines = output.splitlines()
    start = lines.index(title) + 1
    end = start + 2
    while end < len(lines) and lines[end] and not lines[end].startswith(("memory", "Container-Light with")):
        end += 1
    return lines[start:end]


def test_bench_core_quick_prints_every_row_with_ratio_and_machine_info(capsys):
    threads = torch.get_num_threads()
    assert main(["bench", "core", "--quick", "--threads", "1"]) == 0
    assert torch.get_num_threads() == threads  # --threads does not leak out of the command
    output = capsys.readouterr().out
    assert "torch " + torch.__version__ in output
    assert "1 intra-op threads" in output
    assert "machine: " in output
    table = table_lines(output, "core: explicit affinity + aggregate() vs the fused PyTorch operator (batch 1)")
    header, rule, rows = table[0], table[1], table[2:]
    for column in ("case", "setting", "measured", "time", "baseline", "ratio", "goal", "max|diff|", "noise"):
        assert column in header
    assert set(rule.replace(" ", "")) == {"-"}
    assert len(rows) == len(CORE_ROWS)
    for row, expected in zip(rows, CORE_ROWS):
        assert row.startswith(expected[0])
        for part in expected[1:]:
            assert part in row, (part, row)
        assert re.search(r"\s\d+\.\d\dx\s", row), row
    # the explicit forms agree with the fused operators to float precision
    for row in rows[:-1]:
        diff = float(row.split()[-2])
        assert diff < 1e-5, row
    # one query's row against the whole conv output is not the same work: labelled, never read as a speed-up
    assert "not comparable" in rows[-1] and not any("not comparable" in row for row in rows[:-1])
    attention = rows[0]
    assert "<= 3.0x" in attention
    assert "largest tensor allocated" in output and "ok, no N x N tensor" in output


@pytest.mark.slow
def test_bench_models_quick_prints_recording_and_reference_rows(capsys):
    assert main(["bench", "models", "--quick", "--threads", "1"]) == 0
    output = capsys.readouterr().out
    rows = table_lines(output, "models: Container-Light forward on CPU")[2:]
    assert len(rows) == 2  # batch 1 only with --quick
    assert "recording on" in rows[0] and "fast path" in rows[0] and "<= 1.3x" in rows[0]
    assert "fast path" in rows[1] and "reference_forward()" in rows[1] and "<= 1.0x" in rows[1]
    assert all("224x224, batch 1" in row for row in rows)


def test_bench_parser_accepts_the_targets_and_rejects_others():
    parser = build_parser()
    for target in ("core", "models", "all"):
        args = parser.parse_args(["bench", target, "--quick"])
        assert args.target == target and args.quick and callable(args.run)
    assert parser.parse_args(["bench"]).target == "all"
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "gpu"])


def test_largest_allocation_counts_new_tensors_and_not_views():
    x = torch.zeros(10, 10)
    with LargestAllocation() as tracker:
        x[:, :5].t()
    assert tracker.largest == 0 and tracker.total == 0
    with LargestAllocation() as tracker:
        (x + 1).sum()
    assert tracker.largest == 400
    assert tracker.total == 404
