"""``predict`` and ``inspect``: run a model on one image from the command line.

    python -m container_edu predict --model container_light cat.jpg --topk 5   # after `weights fetch`
    python -m container_edu predict --checkpoint container_light.pth cat.jpg --topk 5
    python -m container_edu predict --model fmnist_container_light shirt.png --json
    python -m container_edu inspect --checkpoint container_light.pth cat.jpg --out maps/ \\
        --block blocks4.0 --query 3 3

``--model container_light`` is Container-Light (ImageNet) with the authors'
weights installed by ``python -m container_edu weights fetch`` (or ``import``)
in the weights folder (``--weights-dir``, else ``$CONTAINER_EDU_WEIGHTS_DIR``,
else the per-user data folder); ``--checkpoint`` alone means Container-Light
from that file instead. ``--model fmnist_<mixing>`` picks a Fashion-MNIST zoo
model, with its bundled weights or, given ``--checkpoint`` too, with weights
you trained.

``inspect`` records every aggregation block (``record_affinities``) and, for
one block and one query token, writes the row of each head's affinity as a
heat map over the image the model saw:

* ``<block>_y<Y>_x<X>_attention_head<m>.png``: the dynamic ``A_m(X)[i]``;
* ``<block>_y<Y>_x<X>_conv_head<m>.png`` (``static`` for a dense static
  affinity): the static ``A_m^static[i]`` (a conv kernel pasted at the query,
  averaged over the head's channels);
* ``<block>_y<Y>_x<X>_blended_head<m>.png``: ``alpha A_m(X)[i] + beta A_m^static[i]``,
  written when the block has both parts;
* ``heads.png``: all of the above in one grid, one row of tiles per kind;
* ``input.png``: the picture the model saw, with the query token outlined.

Colours are the app's (``container_edu.figures.colors``): attention rows, which are
probabilities, use viridis from 0 (dark purple) to the map's own maximum
(yellow); conv, static and blended maps, which are signed, use red-white-blue
symmetric around 0 (white); the query token is a white cross edged in black. Each map is
scaled on its own, so compare shapes, not brightness, across tiles.

Bad input (unreadable image or checkpoint, unknown block, query outside the
grid, unavailable device) prints one line to stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["add_parser", "run_predict", "run_inspect"]

_EXIT_BAD_INPUT = 2
_DISPLAY_SIZE = 224
_TILE = 112
_MAX_COLUMNS = 8


class _InputError(Exception):
    """A problem with what the user passed; reported in one line."""


# --------------------------------------------------------------------------
# Parsers
# --------------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``predict`` and ``inspect``."""
    predict = subparsers.add_parser(
        "predict",
        help="classify one image and print the top-k classes",
        description="Classify one image with Container-Light (--checkpoint) or a Fashion-MNIST zoo model (--model).",
    )
    _add_common(predict)
    predict.add_argument("--topk", type=int, default=5, help="how many classes to show (default 5)")
    predict.add_argument("--json", action="store_true", help="print a JSON list of {rank, index, label, probability}")
    predict.set_defaults(run=run_predict)

    inspect = subparsers.add_parser(
        "inspect",
        help="write the affinity maps of one query token, per head, as PNG files",
        description=(
            "Record what one block aggregated for one query token and write each head's affinity row "
            "(attention, static/conv and blended) as a heat map over the image."
        ),
    )
    _add_common(inspect)
    inspect.add_argument("--out", required=True, metavar="DIR", help="folder to write the PNG files into")
    inspect.add_argument(
        "--block", default=None,
        help="block path, e.g. blocks4.0 (default: the first block with a dynamic affinity, else the last block)",
    )
    inspect.add_argument(
        "--query", type=int, nargs=2, metavar=("Y", "X"), default=None,
        help="query token (row, column) on the block's grid (default: the centre)",
    )
    inspect.set_defaults(run=run_inspect)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", metavar="IMAGE", help="image file (PNG, JPEG, WebP, GIF, BMP, TIFF)")
    parser.add_argument(
        "--checkpoint", metavar="PATH", default=None,
        help="weights file: the official Container-Light .pth, or weights for --model",
    )
    parser.add_argument(
        "--model", default=None,
        help="container_light (default with --checkpoint), a family deit_small, convnext_tiny or mixer_b16 "
             "(installed by `weights fetch NAME`, or --checkpoint model.safetensors), or a zoo model "
             "fmnist_<mixing> (attention, conv, mixer, container, container_light)",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    parser.add_argument(
        "--weights-dir", metavar="DIR", default=None,
        help="where `weights fetch` installed container_light and the families (default: "
             "$CONTAINER_EDU_WEIGHTS_DIR, else the per-user data folder)",
    )


# --------------------------------------------------------------------------
# Shared steps
# --------------------------------------------------------------------------


def _guarded(function):
    """Run a command; turn input errors into one line on stderr and exit status 2."""

    def wrapper(args: argparse.Namespace) -> int:
        try:
            return function(args)
        except Exception as error:  # noqa: BLE001 - filtered just below
            if not isinstance(error, _input_error_types()):
                raise
            message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
            message = " ".join(str(message).split()) or type(error).__name__
            print(f"error: {message}", file=sys.stderr)
            return _EXIT_BAD_INPUT

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


def _input_error_types() -> tuple[type[BaseException], ...]:
    from container_edu.hub.checkpoints import CheckpointError

    types: list[type[BaseException]] = [_InputError, CheckpointError, ValueError, KeyError, OSError]
    try:
        from container_edu.data.images import ImageError

        types.append(ImageError)
    except ImportError:
        pass
    try:
        from container_edu.hub.bundled import PretrainedError

        types.append(PretrainedError)
    except ImportError:
        pass
    from container_edu.hub.weights_store import WeightsError

    types.append(WeightsError)
    return tuple(types)


class _Loaded:
    """A model ready for one image: the model, its input and what to call its classes."""

    def __init__(self, model, x, display, class_names: Sequence[str], device, *, image=None,
                 fashion_mnist: bool = False, family: str | None = None) -> None:
        self.model = model
        self.x = x  # (1, C, H, W) on device
        self.display = display  # RGB PIL image, _DISPLAY_SIZE square
        self.class_names = class_names
        self.device = device
        self.image = image  # the picture as loaded, before preprocessing
        self.fashion_mnist = fashion_mnist  # a zoo model: it knows 28×28 grey clothing and nothing else
        self.family = family  # deit_small, convnext_tiny or mixer_b16 (recorded by record_family), else None


def _load(args: argparse.Namespace) -> _Loaded:
    from container_edu.data.images import load_image
    from container_edu.data.transforms import preprocess
    from container_edu.device import default_device
    from container_edu.hub.family_sources import FAMILY_NAMES
    from container_edu.models import MODEL_NAMES, ZOO_PREFIX

    name = args.model or ("container_light" if args.checkpoint else None)
    if name is None:
        raise _InputError(
            "give --model container_light (the authors' ImageNet weights, installed with "
            "`python -m container_edu weights fetch`), --checkpoint PATH (a Container-Light .pth) "
            "or --model fmnist_<mixing> (a bundled Fashion-MNIST model)"
        )
    if name not in MODEL_NAMES:
        raise _InputError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    device = default_device(args.device)
    image = load_image(args.image)  # ImageError says what is wrong with the file

    if name in FAMILY_NAMES:
        from container_edu.cli.family_inspect import load_family_model

        model, card = load_family_model(name, args, device)
        x, display = preprocess(card, image, display_size=_DISPLAY_SIZE)
        return _Loaded(model, x.to(device), display, card.class_names, device, image=image, family=name)

    if name.startswith(ZOO_PREFIX):
        model, card = _load_zoo(name, args.checkpoint, device)
    else:
        from container_edu.hub.cards import card_for_model
        from container_edu.hub.checkpoints import load_official_checkpoint

        if args.checkpoint:
            model = load_official_checkpoint(args.checkpoint, device=device)
        else:
            from container_edu.hub.weights_store import load_installed

            model = load_installed("container_light", getattr(args, "weights_dir", None), device=device)
        card = card_for_model(model)
    x, display = preprocess(card, image, display_size=_DISPLAY_SIZE)
    return _Loaded(model, x.to(device), display, card.class_names, device, image=image,
                   fashion_mnist=name.startswith(ZOO_PREFIX))


def _load_zoo(name: str, checkpoint: str | None, device):
    """The zoo model ``name`` and its card: bundled, or with the weights of ``checkpoint``."""
    if checkpoint:
        from container_edu.hub.cards import card_for_model
        from container_edu.hub.checkpoints import load_model_checkpoint
        from container_edu.models import create_model

        model = load_model_checkpoint(checkpoint, create_model(name))
        return model.eval().to(device), card_for_model(model)
    try:
        from container_edu.hub.bundled import load_pretrained, model_card
    except ModuleNotFoundError as error:
        if error.name != "container_edu.hub.bundled":
            raise
        raise _InputError(
            f"no bundled weights yet for {name}; train them with `python -m container_edu train` "
            "or pass --checkpoint PATH"
        ) from None
    return load_pretrained(name, device=device), model_card(name)


def _probabilities(loaded: _Loaded):
    import torch

    with torch.no_grad():
        logits = loaded.model(loaded.x)
    return torch.softmax(logits.float(), dim=-1)[0].cpu()


# --------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------


@_guarded
def run_predict(args: argparse.Namespace) -> int:
    """Print the top-k classes of one image."""
    import torch

    if args.topk < 1:
        raise _InputError(f"--topk must be at least 1, got {args.topk}")
    loaded = _load(args)
    probs = _probabilities(loaded)
    if probs.numel() != len(loaded.class_names):
        raise _InputError(
            f"the model has {probs.numel()} classes but {len(loaded.class_names)} class names are known"
        )
    k = min(args.topk, probs.numel())
    values, indices = torch.topk(probs, k)
    rows = [
        {"rank": rank, "index": int(index), "label": loaded.class_names[int(index)], "probability": float(value)}
        for rank, (value, index) in enumerate(zip(values.tolist(), indices.tolist()), start=1)
    ]
    note = photo_note(loaded)
    if args.json:
        print(json.dumps(rows, indent=2))
        if note:  # stderr: the JSON on stdout stays one document a program can read
            print(f"note: {note}", file=sys.stderr)
    else:
        print(format_table(rows))
        if note:
            print(f"\nnote: {note}")
    return 0


#: How to get a model for photos, said at the end of the note (the app says where its own button is).
_PHOTO_MODEL = ("get the authors' ImageNet weights with `python -m container_edu weights fetch`, then use "
                "`--model container_light`")


def photo_note(loaded: _Loaded) -> str | None:
    """The app's "This model only knows Fashion-MNIST" note, in the same words, for an image unlike its data;
    Markdown emphasis dropped for the terminal (code spans kept as plain text)."""
    if not loaded.fashion_mnist or loaded.image is None:
        return None
    from container_edu.data.photo_notes import fashion_mnist_note

    note = fashion_mnist_note(loaded.image, how=_PHOTO_MODEL)
    return None if note is None else note.replace("**", "").replace("`", "")


def format_table(rows: Sequence[dict]) -> str:
    """The top-k rows as an aligned text table."""
    lines = [f"{'rank':>4}  {'index':>5}  {'probability':>11}  label"]
    for row in rows:
        lines.append(f"{row['rank']:>4}  {row['index']:>5}  {row['probability'] * 100:>10.2f}%  {row['label']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# inspect
# --------------------------------------------------------------------------


@_guarded
def run_inspect(args: argparse.Namespace) -> int:
    """Write the per-head affinity maps of one query token as PNG files."""
    import torch

    from container_edu.checks import grid_query
    from container_edu.figures import colors
    from container_edu.record.trace import record_affinities

    loaded = _load(args)
    if loaded.family:
        from container_edu.cli.family_inspect import write_family_maps

        for path in write_family_maps(args, loaded, _heads_grid, _InputError):
            print(path)
        return 0
    known = [module.record_name for module in loaded.model.modules() if getattr(module, "record_name", None)]
    if args.block and known and args.block not in known:  # fail before the forward pass
        raise _InputError(f"no block named {args.block!r}; blocks of this model: {', '.join(known)}")
    with torch.no_grad(), record_affinities() as recorder:
        loaded.model(loaded.x)
    if not len(recorder):
        raise _InputError("the model recorded no aggregation block")
    block = args.block or _default_block(recorder)
    if block not in recorder:
        raise _InputError(f"no block named {block!r}; blocks of this model: {', '.join(recorder)}")
    record = recorder[block]
    height, width = record.grid
    query = tuple(args.query) if args.query is not None else (height // 2, width // 2)
    y, x = grid_query(query, height, width, where=block, error=_InputError)
    maps = _maps(record, (y, x))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{block}_y{y}_x{x}"
    written: list[Path] = []
    base = loaded.display
    for kind, rows in maps.items():
        for head, row in enumerate(rows):
            path = out / f"{stem}_{kind}_head{head:02d}.png"
            colors.overlay(base, row, signed=_signed(kind), query=(y, x)).save(path)
            written.append(path)
    grid_path = out / "heads.png"
    _heads_grid(base, maps, (y, x), (height, width), f"{block}, query ({y}, {x})").save(grid_path)
    written.append(grid_path)
    input_path = out / "input.png"
    colors.mark_query(base.copy(), (y, x), (height, width)).save(input_path)
    written.append(input_path)
    for path in written:
        print(path)
    return 0


def _default_block(recorder) -> str:
    for name, record in recorder.items():
        if record.attention is not None:
            return name
    return list(recorder)[-1]


def _maps(record, query: tuple[int, int]) -> dict[str, np.ndarray]:
    """``{kind: (M, H, W) array}`` for the kinds this block has."""
    maps: dict[str, np.ndarray] = {}
    dynamic = record.attention_row(query)
    static = record.static_head_row(query)
    if dynamic is not None:
        maps["attention"] = dynamic.detach().float().cpu().numpy()
    if static is not None:
        maps["conv" if record.conv_weight is not None else "static"] = static.detach().float().cpu().numpy()
    if dynamic is not None and static is not None:
        maps["blended"] = record.blended_row(query).detach().float().cpu().numpy()
    if not maps:
        raise _InputError(f"block {record.name} recorded no affinity")
    return maps


# --------------------------------------------------------------------------
# Pictures (colours and overlays: container_edu.figures.colors)
# --------------------------------------------------------------------------


def _signed(kind: str) -> bool:
    """The app's convention: attention rows are probabilities, every other map is signed (centred on 0)."""
    return kind != "attention"


def _heads_grid(base, maps: dict[str, np.ndarray], query, grid, title: str):
    from PIL import Image, ImageDraw

    from container_edu.figures import colors

    heads = max(rows.shape[0] for rows in maps.values())
    columns = min(heads, _MAX_COLUMNS)
    rows_per_kind = math.ceil(heads / columns)
    header = 18
    width = columns * _TILE
    height = header + len(maps) * (header + rows_per_kind * _TILE)
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 3), title, fill=(0, 0, 0))
    top = header
    small = base.resize((_TILE, _TILE), Image.BILINEAR)
    for kind, stack in maps.items():
        draw.text((4, top + 3), f"{kind} (each tile scaled to its own range)", fill=(0, 0, 0))
        top += header
        for head in range(stack.shape[0]):
            tile = colors.overlay(small, stack[head], signed=_signed(kind), query=query)
            left = (head % columns) * _TILE
            tile_top = top + (head // columns) * _TILE
            sheet.paste(tile, (left, tile_top))
            draw.text((left + 3, tile_top + 2), f"h{head}", fill=(255, 255, 255))
        top += rows_per_kind * _TILE
    return sheet
