"""``predict`` and ``inspect`` for the three families (``--model deit_small | convnext_tiny | mixer_b16``).

The weights are the installed ones (``weights fetch NAME``, :func:`container_edu.hub.families.load_family`), or
``--checkpoint PATH`` (the hub's ``model.safetensors``, loaded strictly into ``create_model(NAME)``).

``inspect`` records one pass (:func:`container_edu.record.families.record_family`) and writes, for one query
token:

* ``blocks.png``: every block's row for the query (the query placed at the same relative spot of each block's
  grid), one tile per block: DeiT the head-mean attention row (probabilities, viridis); ConvNeXt the depthwise
  kernels placed on the grid, averaged over channels (signed, red-white-blue; static: the same for every image);
  the Mixer the linear part ``W2 W1`` of the token-mixing MLP (signed; static);
* ``<block>_y<Y>_x<X>_<kind>_<i>.png`` and ``heads.png`` for the chosen block (``--block``, default the middle
  block): DeiT each head's row (``attention``); ConvNeXt the first eight channels' kernels (``depthwise``); the
  Mixer its linear part (``linear``) and the input-dependent Jacobian row ``d y_c / d u_c`` of the first four
  channels at this image (``jacobian``);
* ``input.png``: the picture the model saw, with the query marked.

Each tile is scaled to its own range; compare shapes, not brightness.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

__all__ = ["load_family_model", "write_family_maps"]

_TILE = 112
_COLUMNS = 6
_SHOWN_CHANNELS = 8
_SHOWN_JACOBIANS = 4


def load_family_model(name: str, args: argparse.Namespace, device):
    """``(model, card)`` of family ``name``: installed weights, or ``--checkpoint`` loaded strictly."""
    from container_edu.hub import families

    if getattr(args, "checkpoint", None):
        from container_edu.files import sha256_file
        from container_edu.hub.checkpoints import load_model_checkpoint
        from container_edu.models import create_model

        model = load_model_checkpoint(args.checkpoint, create_model(name))
        card = families.family_card(name, model, source=f"the file {Path(args.checkpoint).resolve()}",
                                    sha256=sha256_file(args.checkpoint))
        return model.eval().to(device), card
    return families.load_family(name, getattr(args, "weights_dir", None), device=device)


def _rows(record, query: tuple[int, int]) -> dict[str, np.ndarray]:
    """``{kind: (K, H, W)}`` of one block for the query, as :mod:`container_edu.record.families` builds them."""
    import torch

    def numpy(t: torch.Tensor) -> np.ndarray:
        return t.detach().float().cpu().numpy()

    if record.kind == "attention":
        return {"attention": np.stack([numpy(record.row(query, head)) for head in range(record.num_heads)])}
    if record.kind == "depthwise":
        return {"depthwise": numpy(record.row(query))[:_SHOWN_CHANNELS]}
    with torch.enable_grad():  # the Jacobian is taken with autograd
        jacobians = [numpy(record.jacobian_row(query, c)) for c in range(min(_SHOWN_JACOBIANS, record.num_channels))]
    return {"linear": numpy(record.linear_row(query))[None], "jacobian": np.stack(jacobians)}


def _summary(record, query: tuple[int, int]) -> tuple[np.ndarray, bool]:
    """One map per block: the head-mean attention row, the channel-mean kernel placement, or the linear part."""
    if record.kind == "attention":
        return np.mean([record.row(query, h).float().cpu().numpy() for h in range(record.num_heads)], axis=0), False
    if record.kind == "depthwise":
        return record.row(query).float().mean(0).cpu().numpy(), True
    return record.linear_row(query).float().cpu().numpy(), True


def _scaled(query: tuple[int, int], grid: tuple[int, int], to: tuple[int, int]) -> tuple[int, int]:
    (y, x), (height, width), (h2, w2) = query, grid, to
    return min(h2 - 1, (2 * y + 1) * h2 // (2 * height)), min(w2 - 1, (2 * x + 1) * w2 // (2 * width))


def write_family_maps(args: argparse.Namespace, loaded, heads_grid, error: type[Exception]) -> list[Path]:
    """Record one pass of ``loaded.model`` and write the PNG files; returns their paths (see the module docstring).

    ``heads_grid`` draws the chosen block's sheet (``predict._heads_grid``, shared with Container-Light's);
    ``error`` is raised for a bad ``--block`` or ``--query`` (the command's one-line input error).
    """
    from PIL import Image, ImageDraw

    from container_edu.checks import grid_query
    from container_edu.figures import colors
    from container_edu.record.families import record_family

    recording = record_family(loaded.model, loaded.x)
    names = list(recording)
    block = args.block or names[len(names) // 2]
    if block not in recording.blocks:
        raise error(f"no block named {block!r}; blocks of this model: {', '.join(names)}")
    record = recording[block]
    height, width = record.grid
    query = tuple(args.query) if args.query is not None else (height // 2, width // 2)
    y, x = grid_query(query, height, width, where=block, error=error)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = loaded.display
    written: list[Path] = []
    maps = _rows(record, (y, x))
    for kind, stack in maps.items():
        for index, row in enumerate(stack):
            path = out / f"{block}_y{y}_x{x}_{kind}_{index:02d}.png"
            colors.overlay(base, row, signed=kind != "attention", query=(y, x)).save(path)
            written.append(path)
    sheet = out / "heads.png"
    heads_grid(base, maps, (y, x), (height, width), f"{block}, query ({y}, {x})").save(sheet)
    written.append(sheet)

    rows = math.ceil(len(names) / _COLUMNS)
    header = 18
    summary = Image.new("RGB", (_COLUMNS * _TILE, header + rows * (_TILE + header)), (255, 255, 255))
    draw = ImageDraw.Draw(summary)
    draw.text((4, 3), f"{recording.family}: every block's row for the query ({y}, {x}) of {block}", fill=(0, 0, 0))
    small = base.resize((_TILE, _TILE), Image.BILINEAR)
    for index, name in enumerate(names):
        each = recording[name]
        q = _scaled((y, x), (height, width), each.grid)
        values, signed = _summary(each, q)
        left, top = (index % _COLUMNS) * _TILE, header + (index // _COLUMNS) * (_TILE + header)
        draw.text((left + 3, top + 3), f"{name} {each.grid[0]}x{each.grid[1]}", fill=(0, 0, 0))
        summary.paste(colors.overlay(small, values, signed=signed, query=q), (left, top + header))
    blocks_path = out / "blocks.png"
    summary.save(blocks_path)
    written.append(blocks_path)
    input_path = out / "input.png"
    colors.mark_query(base.copy(), (y, x), (height, width)).save(input_path)
    written.append(input_path)
    return written
