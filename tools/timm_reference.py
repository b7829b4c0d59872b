#!/usr/bin/env python
"""timm's own forward of the three families on weights anyone can regenerate: the fixture our models are held to.

The project's DeiT-Small/16, ConvNeXt-Tiny and MLP-Mixer-B/16 (``container_edu/models/``) are written by hand with
timm's state-dict keys. This tool proves the keys and the numerics against timm itself, once, in a scratch
environment (timm is not a dependency of the project):

1. for each model, builds timm's (``deit_small_patch16_224``, ``convnext_tiny``, ``mixer_b16_224``, random init),
   replaces every tensor of its state dict by :func:`reference_tensor` (a rule that needs torch only: one
   ``torch.Generator`` per key, seeded by the key's CRC-32) and loads them with ``strict=True``;
2. runs timm's forward in evaluation mode on :func:`reference_input` (float32, CPU);
3. writes ``tests/fixtures/timm_reference.json``: timm's and torch's versions, the rules, every state-dict key
   with its shape, the first 20 logits of each image, a few summary numbers, and timm's preprocessing config of
   the pretrained tag in ``PRETRAINED_TAGS`` (read from timm's model registry; nothing is downloaded);
4. runs timm's own evaluation transform of that tag on the sample photos in ``PHOTOS`` and its forward on them,
   and keeps the transformed pixels at ``PIXELS``, each channel's mean and the logits.

``tests/test_timm_reference.py`` (main environment, no timm) regenerates the same weights and input with the
functions below, loads them strictly into the project's models, and compares.

Usage (outside the repository's environment)::

    python -m venv /tmp/timmref
    /tmp/timmref/bin/pip install torch torchvision timm safetensors
    /tmp/timmref/bin/python tools/timm_reference.py [--out tests/fixtures/timm_reference.json]

This file imports only torch at module level (the test imports it by path); timm is imported in ``main``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import zlib
from pathlib import Path

import torch

#: The project's name -> timm's model name (the same table as ``container_edu.models.TIMM_NAMES``).
MODELS = {"deit_small": "deit_small_patch16_224", "convnext_tiny": "convnext_tiny", "mixer_b16": "mixer_b16_224"}
#: The pretrained tag whose preprocessing config the fixture records (the weights the project fetches; timm's
#: default tag for convnext_tiny is another one, in12k_ft_in1k, with another crop). The architecture is the same.
PRETRAINED_TAGS = {"deit_small": "fb_in1k", "convnext_tiny": "fb_in1k", "mixer_b16": "goog_in21k_ft_in1k"}
#: Images in the reference batch (two, so that a mix-up between batch entries would show).
BATCH = 2
#: Seed of the reference input.
INPUT_SEED = 20211206
#: Logits kept per image in the fixture.
KEPT_LOGITS = 20
#: The sample photos run through timm's own evaluation transform of each tag (container_edu/samples/).
PHOTOS = ("photo_sunset.jpg", "photo_shapes.jpg")
#: Pixels of the transformed photo kept in the fixture: (channel, row, column), spread over the crop and its edges.
PIXELS = [(c, y, x) for c in range(3) for y in (0, 37, 111, 223) for x in (0, 74, 150, 223)]

WEIGHT_RULE = (
    "for each state-dict key: g = torch.Generator().manual_seed(zlib.crc32(key.encode())); "
    "noise = torch.randn(shape, generator=g); 1-D '.weight' (norms) and '.gamma' (layer scale): 1 + 0.1 noise; "
    "'.bias': 0.1 noise; 'cls_token', 'pos_embed': 0.5 noise; other weights: noise / sqrt(fan_in) "
    "(fan_in = product of shape[1:])"
)
INPUT_RULE = f"torch.randn({BATCH}, 3, 224, 224, generator=torch.Generator().manual_seed({INPUT_SEED}))"


def reference_tensor(key: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The reference value of state-dict entry ``key`` (see ``WEIGHT_RULE``): float32, repeatable with torch alone.

    Scaled so that every layer's output has about unit variance and every residual branch counts: with timm's
    own init (layer scale 1e-6 in ConvNeXt) most blocks would hardly touch the logits and a wrong block would pass.
    """
    generator = torch.Generator().manual_seed(zlib.crc32(key.encode("utf-8")))
    noise = torch.randn(tuple(shape), generator=generator, dtype=torch.float32)
    leaf = key.rsplit(".", 1)[-1]
    if (leaf == "weight" and len(shape) == 1) or leaf == "gamma":
        return 1.0 + 0.1 * noise
    if leaf == "bias":
        return 0.1 * noise
    if leaf in ("cls_token", "pos_embed"):
        return 0.5 * noise
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
    return noise / math.sqrt(fan_in)


def reference_state_dict(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Every key of ``shapes`` (in sorted order) with its :func:`reference_tensor`."""
    return {key: reference_tensor(key, tuple(shapes[key])) for key in sorted(shapes)}


def reference_input() -> torch.Tensor:
    """The reference batch ``(BATCH, 3, 224, 224)``, float32 (see ``INPUT_RULE``)."""
    return torch.randn(BATCH, 3, 224, 224, generator=torch.Generator().manual_seed(INPUT_SEED))


def summarise(logits: torch.Tensor) -> dict[str, object]:
    """What the fixture keeps of ``(B, 1000)`` logits: the first ``KEPT_LOGITS`` per image and a few summaries."""
    logits = logits.detach().double()
    return {
        "first_logits": [[round(float(v), 7) for v in row[:KEPT_LOGITS]] for row in logits],
        "argmax": [int(i) for i in logits.argmax(dim=1)],
        "mean": [float(v) for v in logits.mean(dim=1)],
        "std": [float(v) for v in logits.std(dim=1)],
        "max": [float(v) for v in logits.max(dim=1).values],
    }


def _preprocessing(model: torch.nn.Module) -> dict[str, object]:
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    keep = ("hf_hub_id", "architecture", "tag", "input_size", "crop_pct", "crop_mode", "interpolation", "mean",
            "std", "num_classes")
    return {key: (list(cfg[key]) if isinstance(cfg.get(key), tuple) else cfg.get(key)) for key in keep if key in cfg}


def _photos(model: torch.nn.Module, folder: Path) -> dict[str, object]:
    """timm's evaluation transform of the tag (resolve_data_config + create_transform) on each sample photo, and
    timm's logits on the result: the preprocessing and the forward a user of timm gets for the same picture."""
    from PIL import Image
    from timm.data import create_transform, resolve_data_config

    config = resolve_data_config({}, model=model)
    transform = create_transform(**config, is_training=False)
    out: dict[str, object] = {"transform": str(transform)}
    for name in PHOTOS:
        x = transform(Image.open(folder / name).convert("RGB"))  # (3, 224, 224)
        with torch.no_grad():
            logits = model(x.unsqueeze(0))
        out[name] = {
            "shape": list(x.shape),
            "channel_mean": x.mean(dim=(1, 2)).tolist(),
            "pixels": [float(x[c, y, w]) for c, y, w in PIXELS],
            "logits": summarise(logits),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    import timm  # the scratch environment's; never a dependency of the project

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "timm_reference.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    x = reference_input()
    fixture: dict[str, object] = {
        "about": "timm's forward of three models on regenerable random weights; written by tools/timm_reference.py",
        "timm_version": timm.__version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "dtype": "float32",
        "device": "cpu",
        "weight_rule": WEIGHT_RULE,
        "input_rule": INPUT_RULE,
        "models": {},
    }
    for name, timm_name in MODELS.items():
        model = timm.create_model(f"{timm_name}.{PRETRAINED_TAGS[name]}", pretrained=False).eval()
        shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
        model.load_state_dict(reference_state_dict(shapes), strict=True)
        with torch.no_grad():
            logits = model(x)
        fixture["models"][name] = {
            "timm_name": timm_name,
            "parameters": sum(p.numel() for p in model.parameters()),
            "keys": {key: list(shape) for key, shape in shapes.items()},  # in timm's state-dict order
            "logits": summarise(logits),
            "preprocessing": _preprocessing(model),  # timm's pretrained_cfg of that tag (nothing downloaded)
            "photos": _photos(model, Path(__file__).resolve().parents[1] / "container_edu" / "samples"),
        }
        print(f"{name}: {len(shapes)} keys, argmax {fixture['models'][name]['logits']['argmax']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fixture, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
