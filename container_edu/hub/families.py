"""The three families' ImageNet weights in the weights folder: fetched from the hub or imported, checked, loaded.

    from container_edu.hub.families import fetch_family, load_family, installed_families
    fetch_family("deit_small")                   # timm/deit_small_patch16_224.fb_in1k, pinned (family_sources)
    model, card = load_family("deit_small")      # create_model("deit_small") with those weights, eval mode
    installed_families()                         # {"deit_small": ModelCard, ...}

Each family lives in the weights folder (:func:`container_edu.hub.weights_store.weights_dir`) as
``<name>.safetensors`` (timm's state dict, the bytes the hub published) and ``<name>.json`` (its
:class:`~container_edu.hub.cards.ModelCard`: preprocessing from timm's pretrained config, the accuracy timm and
the papers report, labelled reported, the hub repository and revision, the sha256).

An install never leaves anything half-done, and a refused file changes nothing in the folder. Steps, in a private
temporary folder inside the weights folder, under a per-family lock:

1. get the file (:mod:`container_edu.hub.hf_fetch`: huggingface_hub's cache, offline mode, ``HF_ENDPOINT``),
   and check its sha256 against the one the hub announced (and the pinned one, where one is pinned), and the
   commit it came from against the pinned commit;
2. read its safetensors header with bounded reads (:mod:`container_edu.hub.safetensors_header`): a web page, a
   pickle, an absurd header length, a truncated or padded file are refused here, before any tensor is read;
3. check every key and shape against :func:`container_edu.models.create_model` (nothing loaded yet), then load
   the tensors (safetensors, no pickle), require them finite, and load them strictly into the model;
4. copy the file into the temporary folder, check the copy's sha256, write the card, and rename both into place,
   the card last (a folder with weights but no card reads "not installed").

A refused download is also removed from the Hugging Face cache, so the next fetch asks the hub again.

``weights import PATH --model NAME`` takes the hub's ``model.safetensors`` (or timm's ``pytorch_model.bin``, read
with the safe loader of :mod:`container_edu.hub.checkpoints`, which refuses any pickle that asks to run code).

Public API: :func:`fetch_family`, :func:`import_family`, :func:`load_family`, :func:`installed_families`,
:func:`family_card`, :func:`random_family_card`, :class:`FamilyWeightsError`, :class:`FamilyNotInstalledError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import torch
from filelock import FileLock, Timeout
from torch import Tensor, nn

from container_edu.files import sha256_file
from container_edu.hub.cards import RANDOM_SOURCE, CardError, ModelCard, Preprocessing, read_card, write_card
from container_edu.hub.family_sources import FAMILY_NAMES, HubSource, family_source
from container_edu.hub.hf_fetch import Progress
from container_edu.hub.weights_store import WeightsError, weights_dir
from container_edu.text import N_

__all__ = [
    "FAMILY_NAMES", "FETCH_COMMAND", "FamilyWeightsError", "FamilyNotInstalledError", "fetch_family",
    "import_family", "load_family", "installed_families", "family_card", "random_family_card",
    "family_preprocessing", "expected_state", "is_family",
]

#: How a user installs a family (``{name}`` is filled with the family's name).
FETCH_COMMAND: Final[str] = "python -m container_edu weights fetch {name}"
#: What each family's mixing is, in the card's ``variant`` (the kind of affinity the paper gives it).
_VARIANTS: Final[dict[str, str]] = {"deit_small": "attention", "convnext_tiny": "depthwise_conv",
                                    "mixer_b16": "token_mixing_mlp"}
_INSTALLED_MODE: Final[int] = 0o644
#: A pickle imported by ``weights import`` is read by the safe loader up to this size (mixer_b16's .bin: 240 MB).
_IMPORT_MAX_BYTES: Final[int] = 1024 * 1024 * 1024
_FLOAT_DTYPES: Final[frozenset[str]] = frozenset({"F32", "F16", "BF16", "F64"})

Status = Callable[[str], None]


class FamilyWeightsError(WeightsError):
    """Fetching, importing or loading a family's weights failed; one line a user can act on."""


class FamilyNotInstalledError(FamilyWeightsError):
    """The family's weights are not in the weights folder (or its card cannot be read)."""


# --------------------------------------------------------------------------
# Cards
# --------------------------------------------------------------------------


def family_preprocessing(name: str) -> Preprocessing:
    """timm's evaluation transform of the family's pinned weights: resize, centre crop, interpolation, mean, std."""
    source = family_source(name)
    return Preprocessing(input_size=source.input_size, in_chans=3, mode="shorter_side_center_crop", mean=source.mean,
                         std=source.std, resize=source.resize, interpolation=source.interpolation,
                         crop_pct=source.crop_pct)


def _config_dict(model: nn.Module) -> dict[str, Any]:
    config = dataclasses.asdict(model.config)
    return json.loads(json.dumps(config, default=list))  # tuples -> lists: what the JSON card holds


def family_card(name: str, model: nn.Module, *, source: str, sha256: str, weights_file: str | None = None,
                extra: Mapping[str, Any] | None = None, notes: str = "") -> ModelCard:
    """The card of ``model`` (a family ``name``) with the weights described by ``source`` and ``sha256``."""
    from container_edu.data.imagenet import imagenet_class_names

    pinned = family_source(name)
    return ModelCard(
        name=name, architecture=name, variant=_VARIANTS[name], config=_config_dict(model),
        preprocessing=family_preprocessing(name), class_names=tuple(imagenet_class_names()), dataset=pinned.dataset,
        source=source, weights_file=weights_file or f"{name}.safetensors", sha256=sha256,
        parameter_count=sum(p.numel() for p in model.parameters()),
        reported_metrics={} if source == RANDOM_SOURCE else dict(pinned.reported_metrics),
        notes=notes, extra=dict(extra or {}),
    )


def random_family_card(name: str, model: nn.Module, sha256: str = "") -> ModelCard:
    """The card of randomly initialised weights: ``source`` says ``"random"``, so the app says the maps are not
    learned; no accuracy is reported for them."""
    return family_card(name, model, source=RANDOM_SOURCE, sha256=sha256, extra={"random_weights": True},
                       notes="Random initial weights (a test or a stand-in): nothing these weights show was learned.")


# --------------------------------------------------------------------------
# Fetch and import
# --------------------------------------------------------------------------


def fetch_family(name: str, directory: str | os.PathLike[str] | None = None, *,
                 config: Mapping[str, Any] | None = None, source: HubSource | None = None,
                 status: Status | None = None, progress: Progress | None = None) -> ModelCard:
    """Download family ``name``'s pinned weights from the hub (or its cache), check them, install them.

    ``status(text)`` names each step; ``progress(done, total)`` follows the bytes of a download (an app's progress
    bar; without it huggingface_hub draws its own bar on a terminal). ``config`` overrides the architecture's
    config (small test models); ``source`` replaces the pinned source (another revision). Returns the installed
    card. Raises :class:`FamilyWeightsError` (one line) and leaves the weights folder as it was on any failure.
    """
    from container_edu.hub import hf_fetch

    _check_name(name)
    pinned = source or family_source(name)
    settings = hf_fetch.hub_settings()
    with _installing(weights_dir(directory), name) as (folder, work):
        where = "the Hugging Face cache" if settings.offline else settings.endpoint
        _say(status, f"Getting {pinned.repo_id} ({pinned.filename}, revision {pinned.revision}) from {where} …")
        try:
            got = hf_fetch.download(pinned.repo_id, pinned.filename, pinned.revision, settings=settings,
                                    progress=progress, max_bytes=_largest_file(name, config))
        except hf_fetch.HubError as error:
            raise FamilyWeightsError(N_("Download of {name} failed: {reason}."), name=name,
                                     reason=error.message) from None
        what = f"{pinned.repo_id}/{pinned.filename}"
        try:
            _say(status, "Checking the file (sha256, safetensors header, every key and shape) …")
            digest = sha256_file(got.path)
            _check_download(got, digest, pinned, what)
            provenance = {
                "hub_repo": pinned.repo_id, "hub_revision": pinned.revision, "hub_commit": got.commit,
                "hub_file": pinned.filename, "hub_sha256": got.hub_sha256, "hub_endpoint": settings.endpoint,
                "timm_name": pinned.timm_name, "sources": dict(pinned.sources),
            }
            return _install(name, got.path, folder, work, what=what, config=config, status=status,
                            source=f"{settings.endpoint}/{pinned.repo_id} at revision {pinned.revision} "
                                   f"(commit {got.commit}), file {pinned.filename}",
                            provenance=provenance, original_sha256=digest)
        except FamilyWeightsError:
            hf_fetch.forget(got)
            raise


def import_family(path: str | os.PathLike[str], name: str, directory: str | os.PathLike[str] | None = None, *,
                  config: Mapping[str, Any] | None = None, status: Status | None = None) -> ModelCard:
    """Install family ``name`` from a file the user has (the hub's ``model.safetensors``; it is read, never moved)."""
    _check_name(name)
    path = Path(path).expanduser()
    if not path.is_file():
        raise FamilyWeightsError(N_("No file at {path}: give the path of the model.safetensors you downloaded."),
                                 path=repr(str(path)))
    pinned = family_source(name)
    with _installing(weights_dir(directory), name) as (folder, work):
        _say(status, "Checking the file (sha256, safetensors header, every key and shape) …")
        digest = sha256_file(path)
        if pinned.sha256 is not None and digest != pinned.sha256:
            raise FamilyWeightsError(N_("{what} is not the published {name} weights: its sha256 is {digest}, the "
                                        "pinned one is {expected}."), what=str(path), name=name, digest=digest,
                                     expected=pinned.sha256)
        provenance = {"original_file": path.name, "timm_name": pinned.timm_name, "hub_repo": pinned.repo_id,
                      "sources": dict(pinned.sources)}
        return _install(name, path, folder, work, what=str(path), config=config, status=status,
                        source=f"imported from the file {path.resolve()}", provenance=provenance,
                        original_sha256=digest, accept_pickle=True)


def _check_name(name: str) -> None:
    if name not in FAMILY_NAMES:
        raise FamilyWeightsError(N_("No family named {name}; choose one of {names}."), name=repr(name),
                                 names=", ".join(FAMILY_NAMES))


def _check_download(got, digest: str, pinned: HubSource, what: str) -> None:
    if got.hub_sha256 is None:
        raise FamilyWeightsError(N_("{what} came without a sha256 from the hub (not a Git LFS file), so it cannot be "
                                    "checked; nothing was installed."), what=what)
    if digest != got.hub_sha256:
        raise FamilyWeightsError(N_("{what} does not match the sha256 the hub announced ({digest} != {expected}): it "
                                    "was damaged or replaced on the way; nothing was installed."), what=what,
                                 digest=digest[:16] + "…", expected=got.hub_sha256[:16] + "…")
    if pinned.sha256 is not None and digest != pinned.sha256:
        raise FamilyWeightsError(N_("{what} is not the pinned file: its sha256 is {digest}, the pinned one is "
                                    "{expected}; nothing was installed."), what=what, digest=digest,
                                 expected=pinned.sha256)
    if pinned.pinned_commit and got.commit != pinned.revision:
        raise FamilyWeightsError(N_("{what} came from commit {commit}, not the pinned {revision}; nothing was "
                                    "installed."), what=what, commit=got.commit, revision=pinned.revision)


@contextlib.contextmanager
def _installing(folder: Path, name: str) -> Iterator[tuple[Path, Path]]:
    """``(folder, work)``: a private temporary folder inside ``folder``, removed whatever happens; one install of
    ``name`` at a time per folder."""
    partial = f".{name}.partial-"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / f".{name}.install.lock")
        lock.acquire(timeout=0)
    except Timeout:
        raise FamilyWeightsError(N_("{name} is already being installed by another request; wait for it to finish."),
                                 name=name) from None
    except OSError as error:
        raise FamilyWeightsError(N_("Cannot write into the weights folder {folder}: {reason}."), folder=str(folder),
                                 reason=str(error.strerror or error)) from None
    try:
        for leftover in folder.glob(f"{partial}*"):  # abandoned by a killed install (we hold the lock)
            shutil.rmtree(leftover, ignore_errors=True)
        try:
            work = Path(tempfile.mkdtemp(prefix=partial, dir=folder))
        except OSError as error:
            raise FamilyWeightsError(N_("Cannot write into the weights folder {folder}: {reason}."),
                                     folder=str(folder), reason=str(error.strerror or error)) from None
        try:
            yield folder, work
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        lock.release()
        # The lock file is the only trace an install leaves; remove it so a refused file changes nothing.
        with contextlib.suppress(OSError):
            (folder / f".{name}.install.lock").unlink()


def _largest_file(name: str, config: Mapping[str, Any] | None) -> int:
    """The most bytes the safetensors file of ``create_model(name, **config)`` can take: its tensors at float32
    and the largest header accepted."""
    from container_edu.hub.safetensors_header import MAX_HEADER_BYTES

    return sum(t.numel() * 4 for t in expected_state(name, config).values()) + 8 + MAX_HEADER_BYTES


def expected_state(name: str, config: Mapping[str, Any] | None = None) -> dict[str, Tensor]:
    """The state dict ``create_model(name, **config)`` has, as meta tensors (shapes and dtypes, no memory)."""
    from container_edu.models import create_model

    with torch.device("meta"):
        model = create_model(name, **dict(config or {}))
    return dict(model.state_dict())


def _install(name: str, original: Path, folder: Path, work: Path, *, what: str, config: Mapping[str, Any] | None,
             status: Status | None, source: str, provenance: dict[str, Any], original_sha256: str,
             accept_pickle: bool = False) -> ModelCard:
    from container_edu.hub.checkpoints import CheckpointError, load_state_strictly, state_dict_mismatch
    from container_edu.hub.safetensors_header import SafetensorsError, read_header
    from container_edu.models import create_model

    label = family_source(name).label
    is_safetensors = _starts_like_safetensors(original)
    try:
        # A download must be the safetensors file asked for; only a file the user imports may be timm's
        # pytorch_model.bin, read by the safe loader.
        if is_safetensors or not (accept_pickle and _is_pickle(original)):
            header = read_header(original, what=what)
            expected = expected_state(name, config)
            declared = {key: torch.empty(info.shape, device="meta") for key, info in header.items()}
            missing, unexpected, shapes = state_dict_mismatch(_MetaModel(expected), declared)
            if missing or unexpected or shapes:
                load_state_strictly(_MetaModel(expected), declared, label)  # raises with the full listing
            not_float = sorted(k for k, info in header.items() if info.dtype not in _FLOAT_DTYPES)
            if not_float:
                raise FamilyWeightsError(N_("{what} was refused: {count} tensors are not floating point ({name}, ...)."),
                                         what=what, count=len(not_float), name=not_float[0])
            from safetensors.torch import load_file

            state = load_file(str(original))
        else:
            from container_edu.hub.checkpoints import load_checkpoint_state_dict

            state = load_checkpoint_state_dict(original, max_bytes=_IMPORT_MAX_BYTES)
        model = create_model(name, **dict(config or {}))
        state = {key: value.to(torch.float32) if value.is_floating_point() else value for key, value in state.items()}
        bad = [key for key, value in state.items() if value.is_floating_point() and not torch.isfinite(value).all()]
        if bad:
            raise FamilyWeightsError(N_("{what} is damaged: {count} tensors hold NaN or infinite values ({name}, ...)."),
                                     what=what, count=len(bad), name=bad[0])
        load_state_strictly(model, state, label)
    except (SafetensorsError, CheckpointError) as error:
        raise FamilyWeightsError(error.template, **error.fields) from None
    except Exception as error:  # noqa: BLE001 - safetensors' own SafetensorError on a file the header check passed
        if isinstance(error, FamilyWeightsError):
            raise
        raise FamilyWeightsError(N_("{what} could not be read as weights: {error}"), what=what,
                                 error=" ".join(str(error).split())[:200]) from None
    del state

    _say(status, "Installing …")
    weights_tmp = work / f"{name}.safetensors"
    if is_safetensors:
        shutil.copyfile(original, weights_tmp)  # the published bytes, so the card's sha256 is the hub's
        if sha256_file(weights_tmp) != original_sha256:
            raise FamilyWeightsError(N_("The copy of {what} in {folder} did not read back identically; is the disk "
                                        "full?"), what=what, folder=str(folder))
    else:
        from safetensors.torch import save_file

        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(weights_tmp),
                  metadata={"format": "pt"})
    weights_sha256 = sha256_file(weights_tmp)
    extra = {**provenance, "original_sha256": original_sha256,
             "installed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    pinned = family_source(name)
    card = family_card(name, model, source=source, sha256=weights_sha256, extra=extra,
                       notes=(f"{pinned.label}: timm's {pinned.timm_name} ({pinned.paper}). reported_metrics are "
                              "as reported (acc1/acc5: timm's evaluation of these weights; paper_acc1: the paper), "
                              f"not measured here. {pinned.notes}").strip())
    card_tmp = work / f"{name}.json"
    write_card(card, card_tmp)
    read_card(card_tmp)  # the card must read back through the same contract
    for installed in (weights_tmp, card_tmp):
        os.chmod(installed, _INSTALLED_MODE)
    final_card = folder / f"{name}.json"
    final_card.unlink(missing_ok=True)  # from here until the card lands, the folder reads "not installed"
    os.replace(weights_tmp, folder / f"{name}.safetensors")
    os.replace(card_tmp, final_card)
    return card


class _MetaModel(nn.Module):
    """Stands in for a model in the key-and-shape comparison: its state dict is the given meta tensors."""

    def __init__(self, state: dict[str, Tensor]) -> None:
        super().__init__()
        self._state = state

    def state_dict(self, *args, **kwargs):  # noqa: ARG002 - the signature nn.Module has
        return self._state

    def load_state_dict(self, state, strict: bool = True, assign: bool = False):  # noqa: ARG002
        return None


def _starts_like_safetensors(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(10)
    return len(head) == 10 and head[8:9] == b"{"


def _is_pickle(path: Path) -> bool:
    from container_edu.hub.safe_load import is_pickle_or_torch_zip

    with open(path, "rb") as handle:
        return is_pickle_or_torch_zip(handle.read(8))


# --------------------------------------------------------------------------
# Listing and loading
# --------------------------------------------------------------------------


def installed_families(directory: str | os.PathLike[str] | None = None) -> dict[str, ModelCard]:
    """``{name: card}`` of the families installed in the weights folder (cheap: cards only, no hashing)."""
    folder = weights_dir(directory)
    found: dict[str, ModelCard] = {}
    for name in FAMILY_NAMES:
        card = _installed_card(folder, name)
        if card is not None:
            found[name] = card
    return found


def _installed_card(folder: Path, name: str) -> ModelCard | None:
    card_path = folder / f"{name}.json"
    if not card_path.is_file():
        return None
    try:
        card = read_card(card_path)
    except CardError:
        return None
    if card.architecture != name or not (folder / card.weights_file).is_file():
        return None
    return card


def load_family(name: str, directory: str | os.PathLike[str] | None = None,
                device: str | torch.device | None = None) -> tuple[nn.Module, ModelCard]:
    """``(model, card)``: family ``name`` with its installed weights, in eval mode on ``device``.

    The file's sha256 must match the card and every key and shape must fit. Raises
    :class:`FamilyNotInstalledError` ("run python -m container_edu weights fetch NAME") when absent, and
    :class:`FamilyWeightsError` when the file is damaged.
    """
    from safetensors.torch import load_file

    from container_edu.device import default_device
    from container_edu.hub.checkpoints import CheckpointError, load_state_strictly
    from container_edu.models import create_model

    _check_name(name)
    folder = weights_dir(directory)
    card = _installed_card(folder, name)
    if card is None:
        raise FamilyNotInstalledError(N_("The {name} weights are not installed in {folder}: run {command}."),
                                      name=name, folder=str(folder), command=FETCH_COMMAND.format(name=name))
    path = folder / card.weights_file
    digest = sha256_file(path)
    if digest != card.sha256:
        raise FamilyWeightsError(N_("{path} does not match its card (sha256 {digest}... != {expected}...): the file is "
                                    "damaged or was replaced; run {command} again."), path=str(path),
                                 digest=digest[:12], expected=card.sha256[:12], command=FETCH_COMMAND.format(name=name))
    try:
        model = create_model(name, **_overrides(card.config))
    except (TypeError, ValueError) as error:
        raise FamilyWeightsError(N_("The card of {name} names a config this version cannot build: {error}"),
                                 name=name, error=str(error)) from None
    try:
        load_state_strictly(model, load_file(str(path)), family_source(name).label)
    except CheckpointError as error:
        raise FamilyWeightsError(error.template, **error.fields) from None
    return model.eval().to(default_device(device)), card


def _overrides(config: Mapping[str, Any]) -> dict[str, Any]:
    return {key: tuple(value) if isinstance(value, list) else value for key, value in config.items()}


def _say(status: Status | None, text: str) -> None:
    if status is not None:
        status(text)


def is_family(name: str) -> bool:
    """Whether ``name`` is one of the three families."""
    return name in FAMILY_NAMES

