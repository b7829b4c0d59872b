"""The weights folder: the authors' ImageNet Container-Light, fetched or imported once, found everywhere after.

The folder is, in order of precedence, the ``directory`` argument (``--dir``),
``$CONTAINER_EDU_WEIGHTS_DIR`` (one folder for a shared classroom server), or
the per-user data folder ``platformdirs.user_data_dir("container_edu")/weights``.

:func:`fetch` (download) and :func:`import_checkpoint` (a file at hand) both
end in :func:`install_checkpoint`, which never leaves anything half-done in
the folder: the download lands in a private temporary folder inside it, the
file is loaded by the safe loader (``weights_only``, every pickle opcode
checked), every key and shape is checked strictly against
``create_model("container_light")``, the weights must be finite, the model
weights are written as ``container_light.safetensors`` and read back, the
typed model card ``container_light.json`` is written, and only then are the
two files renamed into place (the card last: a folder with the weights but
no card is simply "not installed"). The authors' original file is not kept;
its sha256 is on the card.

Public API: :func:`weights_dir`, :func:`fetch`, :func:`import_checkpoint`,
:func:`install_checkpoint`, :func:`list_installed`, :func:`installed_card`,
:func:`load_installed`, :class:`WeightsError`, :class:`StoredWeights`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

import torch
from filelock import FileLock, Timeout
from torch import Tensor, nn

from container_edu.data.imagenet import imagenet_class_names
from container_edu.errors import ContainerEduError
from container_edu.files import sha256_file
from container_edu.hub.cards import CardError, ModelCard, imagenet_preprocessing, read_card, write_card
from container_edu.hub.download import DownloadError, Progress, download_file
from container_edu.text import N_, Message

__all__ = [
    "DIR_ENV", "URL_ENV", "IMAGENET_MODEL", "INSTALL_LOCK_FILE", "DEFAULT_URL", "DRIVE_FILE_ID", "REPORTED_METRICS",
    "WeightsError", "StoredWeights", "weights_dir", "default_url", "fetch", "import_checkpoint",
    "install_checkpoint", "list_installed", "installed_card", "load_installed", "installed_size",
]

#: Names the weights folder (a shared classroom server sets it once for everyone).
DIR_ENV: Final[str] = "CONTAINER_EDU_WEIGHTS_DIR"
#: Another address of the same checkpoint (a mirror a school keeps; the tests' local server).
URL_ENV: Final[str] = "CONTAINER_EDU_WEIGHTS_URL"
IMAGENET_MODEL: Final[str] = "container_light"
#: The Container-Light checkpoint linked from the model zoo of the allenai/container README.
DRIVE_FILE_ID: Final[str] = "1WMOWoxTX7AQDCbfMYh7naqIHube3K85A"
DEFAULT_URL: Final[str] = f"https://drive.google.com/uc?id={DRIVE_FILE_ID}&export=download"
RELEASE_PAGE: Final[str] = "https://github.com/allenai/container"
#: As reported by the authors (allenai/container README), never measured here.
REPORTED_METRICS: Final[dict[str, float]] = {"acc1": 82.3, "acc5": 96.2}

_WEIGHTS_FILE: Final[str] = f"{IMAGENET_MODEL}.safetensors"
#: Mode of the installed weights and card: readable by the server whatever account it runs as.
_INSTALLED_MODE: Final[int] = 0o644
_CARD_FILE: Final[str] = f"{IMAGENET_MODEL}.json"
_PARTIAL_PREFIX: Final[str] = f".{IMAGENET_MODEL}.partial-"
#: Held during an install, by any process or thread using the folder (a classroom's server processes share one).
INSTALL_LOCK_FILE: Final[str] = f".{IMAGENET_MODEL}.install.lock"

Status = Callable[[str], None]


class WeightsError(ContainerEduError, RuntimeError):
    """Fetching, importing or loading weights failed; the message is one line a user can act on."""


@dataclasses.dataclass(frozen=True)
class StoredWeights:
    """One set of weights on disk, as ``weights list`` shows it."""

    name: str
    kind: str  # "installed" (the weights folder) or "bundled" (shipped with the package)
    weights_path: Path
    size: int
    sha256: str
    card_sha256: str  # what the card says; differs from sha256 when the file is damaged
    description: str

    @property
    def intact(self) -> bool:
        return self.sha256 == self.card_sha256


# --------------------------------------------------------------------------
# Where
# --------------------------------------------------------------------------


def weights_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """The weights folder: ``directory``, else ``$CONTAINER_EDU_WEIGHTS_DIR``, else the per-user data folder."""
    if directory is not None and str(directory).strip():
        return Path(directory).expanduser()
    override = os.environ.get(DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("container_edu", appauthor=False)) / "weights"


def default_url() -> str:
    """``$CONTAINER_EDU_WEIGHTS_URL`` when set, else the authors' Google Drive file."""
    return os.environ.get(URL_ENV, "").strip() or DEFAULT_URL


# --------------------------------------------------------------------------
# Fetch and import
# --------------------------------------------------------------------------


def fetch(url: str | None = None, directory: str | os.PathLike[str] | None = None, *,
          progress: Progress | None = None, status: Status | None = None) -> ModelCard:
    """Download the authors' checkpoint from ``url`` (default :func:`default_url`) and install it.

    ``progress(done, total)`` follows the download; ``status(text)`` names each
    later step. Returns the installed card. Raises :class:`WeightsError`
    (one line) and leaves the folder as it was on any failure.
    """
    from container_edu.hub.checkpoints import CHECKPOINT_MAX_BYTES

    source = (url or default_url()).strip()
    with _installing(weights_dir(directory)) as (folder, work):
        _say(status, f"Downloading {source} …")
        download = work / "download.pth"
        try:
            got = download_file(source, download, progress=progress, max_bytes=CHECKPOINT_MAX_BYTES)
        except DownloadError as error:
            raise WeightsError(N_("Download failed: {reason}."), reason=error.message) from None
        return _install(download, folder, work, source=source, status=status, label=Message(N_("The downloaded file")),
                        original_name=got.filename)


def import_checkpoint(path: str | os.PathLike[str], directory: str | os.PathLike[str] | None = None, *,
                      status: Status | None = None) -> ModelCard:
    """Install the authors' checkpoint from a file the user already has (it is read, never moved or changed)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(N_("No file at {path}: give the path of the downloaded .pth file."), path=repr(str(path)))
    with _installing(weights_dir(directory)) as (folder, work):
        return _install(path, folder, work, source=f"imported from the file {path.resolve()}", status=status)


def install_checkpoint(path: str | os.PathLike[str], directory: str | os.PathLike[str] | None = None, *,
                       source: str, status: Status | None = None) -> ModelCard:
    """:func:`import_checkpoint` with the card's ``source`` given (e.g. the address a file came from)."""
    with _installing(weights_dir(directory)) as (folder, work):
        return _install(Path(path), folder, work, source=source, status=status)


@contextlib.contextmanager
def _installing(folder: Path) -> Iterator[tuple[Path, Path]]:
    """``(folder, work)``: a private temporary folder inside ``folder``, removed whatever happens.

    One install at a time per folder: a second one (another app session, another process sharing the folder)
    gets a clear message instead of a race over the same two files.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WeightsError(N_("Cannot create the weights folder {folder}: {reason}."), folder=str(folder),
                           reason=str(error.strerror or error)) from None
    lock = FileLock(folder / INSTALL_LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise WeightsError(N_("The ImageNet weights are already being installed by another request; wait for it to "
                              "finish.")) from None
    except OSError as error:
        raise WeightsError(N_("Cannot write into the weights folder {folder}: {reason}."), folder=str(folder),
                           reason=str(error.strerror or error)) from None
    try:
        # Holding the lock, no install is under way: any temporary folder left is one a killed install abandoned.
        for leftover in folder.glob(f"{_PARTIAL_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        try:
            work = Path(tempfile.mkdtemp(prefix=_PARTIAL_PREFIX, dir=folder))
        except OSError as error:
            raise WeightsError(N_("Cannot write into the weights folder {folder}: {reason}."), folder=str(folder),
                               reason=str(error.strerror or error)) from None
        try:
            yield folder, work
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        lock.release()


def _install(original: Path, folder: Path, work: Path, *, source: str, status: Status | None,
             label: Message | None = None, original_name: str | None = None) -> ModelCard:
    from safetensors.torch import load_file, save_file

    from container_edu.hub.checkpoints import (
        CheckpointError,
        extract_state_dict,
        load_checkpoint_file,
        load_state_strictly,
    )
    from container_edu.models import create_model

    _say(status, "Checking the file (safe loader, every key and shape) …")
    original_sha256, original_size = sha256_file(original), original.stat().st_size
    try:
        checkpoint = load_checkpoint_file(original)
        state = extract_state_dict(checkpoint)
    except CheckpointError as error:
        fields = dict(error.fields)
        if label and "what" in fields:  # the temporary download's path means nothing to the user
            fields["what"] = label
        raise WeightsError(error.template, **fields) from None
    entry, why = _entry_used(checkpoint)
    epoch = checkpoint.get("epoch") if isinstance(checkpoint, Mapping) else None
    del checkpoint  # the optimizer state and EMA copy can be several hundred MB
    model = create_model(IMAGENET_MODEL)
    bad = [key for key, value in state.items() if value.is_floating_point() and not torch.isfinite(value).all()]
    try:
        load_state_strictly(model, state, "Container-Light")
    except CheckpointError as error:
        raise WeightsError(error.template, **error.fields) from None
    if bad:
        raise WeightsError(N_("The checkpoint is damaged: {count} tensors hold NaN or infinite values ({name}, ..."
                              ")."), count=len(bad), name=bad[0])
    del state

    _say(status, "Converting to safetensors …")
    tensors = {key: value.detach().contiguous().clone() for key, value in model.state_dict().items()}
    weights_tmp = work / _WEIGHTS_FILE
    save_file(tensors, str(weights_tmp), metadata={"format": "pt", "source": source[:500]})
    reloaded = load_file(str(weights_tmp))
    if reloaded.keys() != tensors.keys() or any(not torch.equal(reloaded[k], tensors[k]) for k in tensors):
        raise WeightsError(N_("The converted weights did not read back identically from {path}; is the disk full?"),
                           path=str(weights_tmp))
    card = _card(model, source=source, weights_sha256=sha256_file(weights_tmp), original_name=original_name or original.name,
                 original_sha256=original_sha256, original_size=original_size, entry=entry, why=why, epoch=epoch)
    card_tmp = work / _CARD_FILE
    write_card(card, card_tmp)
    read_card(card_tmp)  # the card we wrote must read back through the same contract

    _say(status, "Installing …")
    # Readable by every user: a class's server often runs as another account than the one that installed the
    # weights (the temporary folder is private, and a umask of 077 would make the files private too).
    for installed in (weights_tmp, card_tmp):
        os.chmod(installed, _INSTALLED_MODE)
    with contextlib.suppress(OSError):  # a folder we may not change (another owner) is left as it is
        os.chmod(folder, folder.stat().st_mode | 0o755)
    final_card = folder / _CARD_FILE
    final_card.unlink(missing_ok=True)  # from here until the card lands, the folder reads "not installed"
    os.replace(weights_tmp, folder / _WEIGHTS_FILE)
    os.replace(card_tmp, final_card)
    return card


def _entry_used(checkpoint: object) -> tuple[str, str]:
    """Which entry of the checkpoint held the weights, and why that one (mirrors ``extract_state_dict``)."""
    if not isinstance(checkpoint, Mapping) or any(isinstance(v, Tensor) for v in checkpoint.values()):
        return "state dict", "the file is a bare state dict (no training wrapper)"
    if "model" in checkpoint:
        also = " The 'model_ema' entry (an exponential moving average of the weights) was not used." \
            if "model_ema" in checkpoint else ""
        return "model", ("'model' holds the weights the authors evaluate: their evaluation (DeiT's main.py --eval "
                         "--resume) loads checkpoint['model'], so the reported accuracy is that entry's." + also)
    if "state_dict" in checkpoint:
        return "state_dict", "the checkpoint has no 'model' entry; 'state_dict' held the weights"
    return "model_ema", ("the checkpoint has no 'model' entry, so its 'model_ema' entry (a moving average of the "
                         "weights) was used; the authors' reported accuracy may not be that entry's")


def _card(model: nn.Module, *, source: str, weights_sha256: str, original_name: str, original_sha256: str,
          original_size: int, entry: str, why: str, epoch: object) -> ModelCard:
    config = {key: list(value) if isinstance(value, tuple) else value
              for key, value in dataclasses.asdict(model.config).items()}
    return ModelCard(
        name=IMAGENET_MODEL,
        architecture="container_light",
        variant="container_light",
        config=config,
        preprocessing=imagenet_preprocessing(),
        class_names=tuple(imagenet_class_names()),
        dataset="ImageNet-1k (ILSVRC 2012), 1000 classes",
        source=source,
        weights_file=_WEIGHTS_FILE,
        sha256=weights_sha256,
        parameter_count=sum(p.numel() for p in model.parameters()),
        reported_metrics=dict(REPORTED_METRICS),
        notes=(f"The authors' released Container-Light (Gao et al., NeurIPS 2021; {RELEASE_PAGE}). "
               "reported_metrics (acc1 82.3, acc5 96.2: ImageNet-1k validation, 224x224) are as reported by the "
               "authors, not measured here. "
               f"Weights taken from the checkpoint's '{entry}' entry: {why}"),
        extra={
            "original_file": original_name,
            "original_sha256": original_sha256,
            "original_size": original_size,
            "checkpoint_entry": entry,
            "checkpoint_epoch": epoch if isinstance(epoch, (int, float)) else None,
            "installed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "installed_with": f"container_edu {_package_version()}",
        },
    )


# --------------------------------------------------------------------------
# Listing and loading
# --------------------------------------------------------------------------


def installed_card(directory: str | os.PathLike[str] | None = None) -> ModelCard | None:
    """The card of the installed ImageNet weights, or ``None`` when they are not installed (cheap: no hashing)."""
    folder = weights_dir(directory)
    card_path, weights_path = folder / _CARD_FILE, folder / _WEIGHTS_FILE
    if not (card_path.is_file() and weights_path.is_file()):
        return None
    try:
        card = read_card(card_path)
    except CardError:
        return None
    return card if card.architecture == "container_light" else None


def load_installed(name: str = IMAGENET_MODEL, directory: str | os.PathLike[str] | None = None,
                   device: str | torch.device | None = None) -> nn.Module:
    """The installed model ``name`` in eval mode on ``device``; its checksum and every key are checked."""
    from safetensors.torch import load_file

    from container_edu.device import default_device
    from container_edu.models import create_model

    if name != IMAGENET_MODEL:
        raise WeightsError(N_("No installed weights named {name}; the weights folder holds {known} only."),
                           name=repr(name), known=repr(IMAGENET_MODEL))
    folder = weights_dir(directory)
    card = installed_card(folder)
    if card is None:
        raise WeightsError(N_("The ImageNet weights are not installed in {folder}: run `python -m container_edu weights "
                              "fetch` (or `weights import PATH` with a file you have)."), folder=str(folder))
    path = folder / card.weights_file
    if not os.access(path, os.R_OK):
        mode = stat.S_IMODE(path.stat().st_mode)
        raise WeightsError(N_("{path} (mode {mode}) is not readable by the user this runs as ({user}): run `chmod 644 "
                              "{path}` as its owner (installs by this version are made 644)."),
                           path=str(path), mode=f"{mode:o}", user=_user_name())
    digest = sha256_file(path)
    if digest != card.sha256:
        raise WeightsError(N_("{path} does not match its card (sha256 {digest}... != {expected}...): the file is damaged "
                              "or was replaced; run `python -m container_edu weights fetch` again."),
                           path=str(path), digest=digest[:12], expected=card.sha256[:12])
    model = create_model(IMAGENET_MODEL, **_config_overrides(card.config))
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.eval().to(default_device(device))


def list_installed(directory: str | os.PathLike[str] | None = None, *,
                   bundled_dir: str | os.PathLike[str] | None = None) -> list[StoredWeights]:
    """Everything in the weights folder, then the bundled models, each with its size and (computed) sha256."""
    from container_edu.hub.bundled import WEIGHTS_DIR

    folder = weights_dir(directory)
    bundled = Path(bundled_dir) if bundled_dir is not None else WEIGHTS_DIR
    found = _stored(folder, "installed") if folder.is_dir() else []
    if bundled.resolve() != folder.resolve():
        found += _stored(bundled, "bundled")
    return found


def _stored(folder: Path, kind: str) -> list[StoredWeights]:
    found = []
    for card_path in sorted(folder.glob("*.json")):
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            weights_path = folder / str(card["weights_file"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a model card
        if not weights_path.is_file():
            continue
        found.append(StoredWeights(
            name=str(card.get("name", card_path.stem)), kind=kind, weights_path=weights_path,
            size=weights_path.stat().st_size, sha256=sha256_file(weights_path), card_sha256=str(card.get("sha256", "")),
            description=str(card.get("dataset", "")),
        ))
    return found


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def installed_size() -> int:
    """Bytes of the tensors in ``container_light.safetensors`` (counted on a meta-device model: no memory used)."""
    from container_edu.models import create_model

    with torch.device("meta"):
        model = create_model(IMAGENET_MODEL)
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def _config_overrides(config: Mapping) -> dict:
    return {key: tuple(value) if isinstance(value, list) else value for key, value in config.items()}


def _user_name() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        return str(getattr(os, "getuid", lambda: "?")())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _say(status: Status | None, text: str) -> None:
    if status is not None:
        status(text)


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("container_edu")
    except Exception:  # noqa: BLE001 - a source checkout without metadata
        return "(source checkout)"
