"""On a CUDA machine, each family's recording on the GPU matches the CPU one within 1e-4 (skipped without CUDA).

``default_device("cuda")`` turns TF32 off, so float32 is compared with float32. Every block's explicit output
(attention A V projected, kernel rows · V, the Mixer's Jacobian rows) is compared, so a rule that builds a tensor
on the wrong device or in the wrong precision shows here.
"""

from __future__ import annotations

import pytest
import torch

from container_edu.device import default_device
from container_edu.models import FAMILY_MODELS, create_model
from container_edu.record.families import record_family

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
TOLERANCE = 1e-4


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_family_recording_on_the_gpu_matches_the_cpu(name):
    torch.manual_seed(0)
    cpu_model = create_model(name).eval()
    gpu_model = create_model(name).eval()
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to(default_device("cuda"))
    x = torch.randn(1, 3, 224, 224)
    on_cpu, on_gpu = record_family(cpu_model, x), record_family(gpu_model, x.cuda())
    torch.testing.assert_close(on_gpu.logits.cpu(), on_cpu.logits, rtol=0, atol=TOLERANCE)
    assert list(on_gpu) == list(on_cpu)
    for block, cpu_record in on_cpu.items():
        gpu_record = on_gpu[block]
        query = (cpu_record.grid[0] - 1, cpu_record.grid[1] // 2)  # on the bottom border
        if cpu_record.kind == "attention":
            pairs = [(gpu_record.explicit_output(), cpu_record.explicit_output()),
                     (gpu_record.row(query, 1), cpu_record.row(query, 1))]
        elif cpu_record.kind == "depthwise":
            pairs = [(gpu_record.explicit_output_at(query), cpu_record.explicit_output_at(query)),
                     (gpu_record.row(query), cpu_record.row(query))]
        else:
            pairs = [(gpu_record.jacobian_row(query, 5), cpu_record.jacobian_row(query, 5)),
                     (gpu_record.linear_row(query), cpu_record.linear_row(query)),
                     (gpu_record.jacobian_vs_linear()[0], cpu_record.jacobian_vs_linear()[0])]
        for on_device, expected in pairs:
            assert on_device.device.type == "cuda"
            torch.testing.assert_close(on_device.cpu().to(expected.dtype), expected, rtol=0, atol=TOLERANCE)
