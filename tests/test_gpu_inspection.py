"""On a CUDA machine, an inspection of the ImageNet Container-Light on the GPU matches the CPU one (1e-4).

Skipped without CUDA. ``default_device`` turns TF32 off when it picks CUDA
(``container_edu.device.exact_float32``), so the comparison is float32
against float32.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from container_edu.device import default_device
from container_edu.data.input_size import center_crop_input, imagenet_preprocessing, preprocessing_at
from container_edu.record.inspection import block_maps, run_inspection
from container_edu.models import create_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
TOLERANCE = 1e-4


def photo() -> "Image.Image":  # noqa: F821 - PIL, imported lazily
    from PIL import Image

    yy, xx = np.mgrid[0:360, 0:480]
    return Image.fromarray(np.stack([xx % 256, yy % 256, (3 * xx + yy) % 256], axis=-1).astype(np.uint8))


@pytest.mark.parametrize("size", [224, 448])
def test_gpu_inspection_matches_cpu(size):
    torch.manual_seed(0)
    cpu_model = create_model("container_light").eval()
    gpu_model = create_model("container_light").eval()
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to(default_device("cuda"))
    assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    x, _ = center_crop_input(photo(), preprocessing_at(imagenet_preprocessing(), size))
    x = x.unsqueeze(0)
    on_cpu, on_gpu = run_inspection(cpu_model, x), run_inspection(gpu_model, x)
    np.testing.assert_allclose(on_gpu.probabilities, on_cpu.probabilities, rtol=0, atol=TOLERANCE)
    assert on_gpu.blocks == on_cpu.blocks and len(on_cpu.blocks) == 18
    for block in on_cpu.blocks:
        cpu_record, gpu_record = on_cpu.records[block], on_gpu.records[block]
        assert gpu_record.grid == cpu_record.grid
        for field in ("attention", "conv_weight"):
            a, b = getattr(cpu_record, field), getattr(gpu_record, field)
            assert (a is None) == (b is None), (block, field)
            if a is not None:
                assert b.device.type == "cpu"  # inspections are brought back for the figures
                torch.testing.assert_close(b, a, rtol=0, atol=TOLERANCE)
        grid = cpu_record.grid
        query = (grid[0] // 3, grid[1] // 2)
        cpu_maps, gpu_maps = block_maps(on_cpu, block, 0, query), block_maps(on_gpu, block, 0, query)
        np.testing.assert_allclose(gpu_maps.blended_heads, cpu_maps.blended_heads, rtol=0, atol=TOLERANCE)
