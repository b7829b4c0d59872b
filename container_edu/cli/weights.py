"""``weights``: get ImageNet weights once, then every command and the app find them.

    python -m container_edu weights fetch                 # the authors' Container-Light (Google Drive)
    python -m container_edu weights fetch --url URL       # a mirror of the same file
    python -m container_edu weights import container_light.pth
    python -m container_edu weights fetch deit_small      # timm's weights from the Hugging Face hub, pinned
    python -m container_edu weights import model.safetensors --model mixer_b16
    python -m container_edu weights list

The three families (``deit_small``, ``convnext_tiny``, ``mixer_b16``) come from the Hugging Face hub through
huggingface_hub: ``HF_ENDPOINT`` names a mirror, ``HF_HUB_OFFLINE=1`` uses only its cache (``HF_HOME``); their
repositories and revisions are in :mod:`container_edu.hub.family_sources`.

``--dir DIR`` picks the weights folder (default: ``$CONTAINER_EDU_WEIGHTS_DIR``,
else the per-user data folder). A failure prints one line to stderr and
exits with status 1; the folder is left as it was.
"""

from __future__ import annotations

import argparse
import sys

from container_edu.cli.table import aligned_table
from container_edu.hub.family_sources import FAMILY_NAMES

__all__ = ["add_parser", "run_fetch", "run_import", "run_list"]

_EXIT_FAILED = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``weights`` with its ``fetch``, ``import`` and ``list`` subcommands."""
    weights = subparsers.add_parser(
        "weights", help="fetch, import or list model weights (Container-Light, DeiT, ConvNeXt, MLP-Mixer)",
        description="Install ImageNet weights into the weights folder (the authors' Container-Light, or timm's "
                    "DeiT-Small, ConvNeXt-Tiny and MLP-Mixer-B/16 from the Hugging Face hub), or list what is "
                    "installed and bundled.",
    )
    actions = weights.add_subparsers(dest="weights_command", required=True)

    fetch = actions.add_parser(
        "fetch", help="download weights, check them and install them",
        description="Without MODEL: the authors' Container-Light checkpoint. With MODEL (deit_small, convnext_tiny, "
                    "mixer_b16): timm's ImageNet weights from the Hugging Face hub at the pinned revision "
                    "(HF_ENDPOINT for a mirror, HF_HUB_OFFLINE=1 for the cache only).")
    fetch.add_argument("model", nargs="?", default=None, choices=FAMILY_NAMES, metavar="MODEL",
                       help=f"one of {', '.join(FAMILY_NAMES)} (default: the authors' Container-Light)")
    fetch.add_argument("--url", default=None,
                       help="any http(s) address of the same file (default: $CONTAINER_EDU_WEIGHTS_URL, "
                            "else the Google Drive file linked from the allenai/container README)")
    _add_dir(fetch)
    fetch.set_defaults(run=run_fetch)

    imp = actions.add_parser("import", help="check and install a checkpoint file you already have")
    imp.add_argument("path", metavar="PATH", help="the downloaded file: Container-Light's .pth, or for --model the "
                                                   "hub's model.safetensors (left where it is)")
    imp.add_argument("--model", default=None, choices=FAMILY_NAMES,
                     help=f"install PATH as this family ({', '.join(FAMILY_NAMES)}); default: Container-Light")
    _add_dir(imp)
    imp.set_defaults(run=run_import)

    listing = actions.add_parser("list", help="what is installed and bundled, where, its size and sha256")
    _add_dir(listing)
    listing.set_defaults(run=run_list)


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=None, metavar="DIR",
                        help="weights folder (default: $CONTAINER_EDU_WEIGHTS_DIR, else the per-user data folder)")


def _failed(error: Exception) -> int:
    print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
    return _EXIT_FAILED


def _status(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _installed(card, folder) -> None:
    reported = ", ".join(f"{key} {value}" for key, value in card.reported_metrics.items())
    print(f"installed {card.name} in {folder}")
    print(f"  weights   {folder / card.weights_file} (sha256 {card.sha256})")
    print(f"  original  {card.extra.get('original_file')} (sha256 {card.extra.get('original_sha256')}), "
          f"entry '{card.extra.get('checkpoint_entry')}' used")
    print(f"  reported  {reported} (as reported by the authors, not measured here)")
    print(f"  use it    python -m container_edu predict --model {card.name} IMAGE")


def _installed_family(card, folder) -> None:
    reported = ", ".join(f"{key} {value}" for key, value in card.reported_metrics.items())
    print(f"installed {card.name} in {folder}")
    print(f"  weights   {folder / card.weights_file} (sha256 {card.sha256})")
    print(f"  source    {card.source}")
    print(f"  reported  {reported} (as reported by timm and the paper, not measured here)")
    print(f"  use it    python -m container_edu predict --model {card.name} IMAGE")


def _run_family(args: argparse.Namespace, action) -> int:
    from container_edu.hub import weights_store as store

    folder = store.weights_dir(args.dir)
    try:
        card = action(folder)
    except store.WeightsError as error:
        return _failed(error)
    _installed_family(card, folder)
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    """Download, check and install the authors' checkpoint, or a family's weights from the hub."""
    if getattr(args, "model", None):
        from container_edu.hub import families

        if args.url:
            return _failed(ValueError("--url is for Container-Light; a family comes from the Hugging Face hub "
                                      "(set HF_ENDPOINT for a mirror)"))
        return _run_family(args, lambda folder: families.fetch_family(args.model, folder, status=_status))
    from tqdm import tqdm

    from container_edu.hub import weights_store as store

    folder = store.weights_dir(args.dir)
    bars: list[tqdm] = []  # made at the first byte, so it is drawn below the "Downloading" line

    def progress(done: int, total: int | None) -> None:
        if not bars:  # disable=None: no bar when stderr is not a terminal (logs, CI)
            bars.append(tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="download",
                             file=sys.stderr, disable=None))
        bar = bars[0]
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def finish_bar() -> None:
        if bars:
            bars[0].close()

    def status(text: str) -> None:
        finish_bar()
        _status(text)

    try:
        card = store.fetch(args.url, folder, progress=progress, status=status)
    except store.WeightsError as error:
        finish_bar()
        return _failed(error)
    finish_bar()
    _installed(card, folder)
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Check and install a checkpoint file the user has."""
    if getattr(args, "model", None):
        from container_edu.hub import families

        return _run_family(args, lambda folder: families.import_family(args.path, args.model, folder,
                                                                        status=_status))
    from container_edu.hub import weights_store as store

    folder = store.weights_dir(args.dir)
    try:
        card = store.import_checkpoint(args.path, folder, status=_status)
    except store.WeightsError as error:
        return _failed(error)
    _installed(card, folder)
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print what is installed and bundled."""
    from container_edu.hub import weights_store as store

    folder = store.weights_dir(args.dir)
    stored = store.list_installed(folder)
    print(f"weights folder: {folder}" + ("" if folder.is_dir() else " (does not exist yet)"))
    if store.installed_card(folder) is None:
        print(f"  {store.IMAGENET_MODEL} (ImageNet, the authors' weights): not installed; "
              "run `python -m container_edu weights fetch` (or `weights import PATH`)")
    from container_edu.hub.families import installed_families
    from container_edu.hub.family_sources import FAMILY_SOURCES

    families = installed_families(folder)
    for name, source in FAMILY_SOURCES.items():
        if name in families:
            card = families[name]
            state = "random weights" if card.random_weights else f"{source.repo_id} at {source.revision[:12]}"
            print(f"  {name} ({source.label}): {state}")
        else:
            print(f"  {name} ({source.label}): not installed; run `python -m container_edu weights fetch {name}`")
    rows = [(item.name, item.kind, f"{item.size / 2**20:.1f} MB", item.sha256,
              f"{item.weights_path}" + ("" if item.intact else "  DAMAGED: does not match its card"))
             for item in stored]
    print(aligned_table(("name", "kind", "size", "sha256", "path"), rows, right={"size"}))
    return 0 if all(item.intact for item in stored) else _EXIT_FAILED
