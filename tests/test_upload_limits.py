"""Upload limits and the per-session bound on uploaded checkpoints (issue #7, parts 1 and 2).

- ``.streamlit/config.toml``'s ``server.maxUploadSize`` (MB, which Streamlit
  multiplies by 1024 * 1024) must equal ``images.DEFAULT_MAX_UPLOAD_BYTES``, the
  cap the app's own loaders apply, so the two cannot drift apart.
- An uploaded checkpoint goes through ``app.caching.load_uploaded_model``: loaded
  from memory by the safe loader, nothing written to a file, and at most
  ``UPLOADED_MODELS_MAX`` models kept per session (least recently used dropped).
"""

from __future__ import annotations

import gc
import hashlib
import io
import pickle
import tomllib
import weakref
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from container_edu.data.images import DEFAULT_MAX_UPLOAD_BYTES

REPO_ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------
# 1. The upload cap: Streamlit's config and the core's constant agree
# --------------------------------------------------------------------------


def test_streamlit_max_upload_size_matches_the_cores_upload_cap():
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    max_upload_mb = config["server"]["maxUploadSize"]
    assert isinstance(max_upload_mb, int) and max_upload_mb > 0
    # Streamlit's upload route enforces server.maxUploadSize * 1024 * 1024 bytes.
    assert max_upload_mb * 1024 * 1024 == DEFAULT_MAX_UPLOAD_BYTES, (
        f".streamlit/config.toml has server.maxUploadSize = {max_upload_mb} MB, but "
        f"container_edu.data.images.DEFAULT_MAX_UPLOAD_BYTES is {DEFAULT_MAX_UPLOAD_BYTES} bytes "
        f"({DEFAULT_MAX_UPLOAD_BYTES / 2**20:g} MB): change them together"
    )


def test_the_widgets_advertise_and_apply_the_same_cap():
    import app.sidebar
    import app.widgets

    assert app.widgets.DEFAULT_MAX_UPLOAD_BYTES is DEFAULT_MAX_UPLOAD_BYTES
    assert app.sidebar.DEFAULT_MAX_UPLOAD_BYTES is DEFAULT_MAX_UPLOAD_BYTES
    label_mb = DEFAULT_MAX_UPLOAD_BYTES // (1024 * 1024)
    assert f"up to {label_mb} MB" in (REPO_ROOT / "app" / "widgets.py").read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# 2. Uploaded checkpoints: in memory, refused when hostile, bounded per session
# --------------------------------------------------------------------------


def _zoo_checkpoint(seed: int) -> bytes:
    """A distinct, valid zoo checkpoint (the conv variant, the smallest) as torch.save bytes."""
    from container_edu.models import ZooConfig, ZooContainer

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ZooContainer(ZooConfig(mixing="conv"))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def checkpoints() -> list[bytes]:
    from app.caching import UPLOADED_MODELS_MAX

    return [_zoo_checkpoint(seed) for seed in range(UPLOADED_MODELS_MAX + 3)]


def test_uploaded_models_stay_within_the_bound(checkpoints):
    from app import caching

    assert 1 <= caching.UPLOADED_MODELS_MAX <= 8, "the per-session bound must stay small"
    session: dict = {}
    alive: list[weakref.ref] = []
    for number, data in enumerate(checkpoints):
        ref, newly_loaded = caching.load_uploaded_model(session, f"upload{number}.pth", data)
        assert newly_loaded and ref.source == "upload"
        alive.append(weakref.ref(caching.get_model(ref, session)))
        assert len(session[caching.UPLOADED_MODELS_KEY]) == min(number + 1, caching.UPLOADED_MODELS_MAX)
    kept = session[caching.UPLOADED_MODELS_KEY]
    assert len(kept) == caching.UPLOADED_MODELS_MAX < len(checkpoints)
    # The most recent uploads are the ones kept, and the picker offers exactly those.
    expected = [f"upload:{hashlib.sha256(d).hexdigest()[:16]}" for d in checkpoints[-caching.UPLOADED_MODELS_MAX:]]
    assert list(kept) == expected
    offered = [r.key for r in caching.available_models(session) if r.source == "upload"]
    assert offered == expected
    # The dropped models are really freed: nothing else holds on to them.
    gc.collect()
    dropped = len(checkpoints) - caching.UPLOADED_MODELS_MAX
    assert [w() is None for w in alive] == [True] * dropped + [False] * caching.UPLOADED_MODELS_MAX


def test_uploading_the_same_file_again_reuses_the_model_and_refreshes_its_place(checkpoints):
    from app import caching

    session: dict = {}
    bound = caching.UPLOADED_MODELS_MAX
    first, _ = caching.load_uploaded_model(session, "a.pth", checkpoints[0])
    model = caching.get_model(first, session)
    for data in checkpoints[1:bound]:
        caching.load_uploaded_model(session, "other.pth", data)
    again, newly_loaded = caching.load_uploaded_model(session, "a again.pth", checkpoints[0])
    assert not newly_loaded and again == first and caching.get_model(again, session) is model
    caching.load_uploaded_model(session, "new.pth", checkpoints[bound])  # drops the least recently used ...
    assert first.key in session[caching.UPLOADED_MODELS_KEY]  # ... which is no longer the re-used one
    assert len(session[caching.UPLOADED_MODELS_KEY]) == bound


def test_a_dropped_upload_gives_a_clear_error_not_a_key_error(checkpoints):
    from app import caching
    from container_edu.hub.bundled import PretrainedError

    session: dict = {}
    first, _ = caching.load_uploaded_model(session, "first.pth", checkpoints[0])
    for data in checkpoints[1:caching.UPLOADED_MODELS_MAX + 1]:
        caching.load_uploaded_model(session, "later.pth", data)
    with pytest.raises(PretrainedError, match="upload it again"):
        caching.get_model(first, session)


def test_an_upload_is_loaded_in_memory_and_never_written_to_a_file(checkpoints, monkeypatch):
    import builtins
    import os
    import tempfile

    from app import caching

    real_open = builtins.open

    def no_writes(file, mode="r", *args, **kwargs):
        if any(flag in str(mode) for flag in "wax+"):
            raise AssertionError(f"an upload must not be written to a file (open({file!r}, {mode!r}))")
        return real_open(file, mode, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("an upload must not touch the file system")

    monkeypatch.setattr(builtins, "open", no_writes)
    monkeypatch.setattr(io, "open", no_writes)
    for name in ("NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile", "mkstemp", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, forbidden)
    monkeypatch.setattr(os, "open", forbidden)
    monkeypatch.setattr(torch, "save", forbidden)
    session: dict = {}
    ref, _ = caching.load_uploaded_model(session, "in_memory.pth", checkpoints[0])
    assert caching.get_model(ref, session).training is False


class _RunsCode:
    """Unpickling this object calls ``exec`` (what a hostile checkpoint would do)."""

    def __reduce__(self):
        return exec, ("import builtins; builtins._container_edu_pwned = True",)


def test_a_code_running_checkpoint_upload_is_refused_stored_nowhere_and_never_runs():
    import builtins

    from app import caching
    from container_edu.hub.checkpoints import CheckpointError

    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.ones(2)}, "payload": _RunsCode()}, buffer)
    for data in (buffer.getvalue(), pickle.dumps({"w": _RunsCode()}, protocol=2)):
        session: dict = {}
        with pytest.raises(CheckpointError):
            caching.load_uploaded_model(session, "evil.pth", data)
        assert not session.get(caching.UPLOADED_MODELS_KEY)
        assert not hasattr(builtins, "_container_edu_pwned")


def test_an_upload_over_the_cap_is_refused_before_loading():
    from app import caching
    from container_edu.hub.checkpoints import CheckpointError

    session: dict = {}
    with pytest.raises(CheckpointError, match="too large"):
        caching.load_uploaded_model(session, "huge.pth", b"\x80" + bytes(DEFAULT_MAX_UPLOAD_BYTES))
    assert not session.get(caching.UPLOADED_MODELS_KEY)


def test_failed_upload_messages_are_bounded_too():
    from app import caching

    session: dict = {}
    for number in range(caching.FAILED_UPLOADS_MAX + 10):
        caching.remember_failed_upload(session, f"digest{number}", "not a checkpoint")
    failed = session[caching.FAILED_UPLOADS_KEY]
    assert len(failed) == caching.FAILED_UPLOADS_MAX
    assert isinstance(failed, OrderedDict) and next(iter(failed)) == "digest10"


def test_the_sidebar_uploader_goes_through_the_bounded_in_memory_loader(checkpoints, no_weights):
    """The app path end to end (AppTest): more distinct uploads than the bound, through the sidebar widget."""
    from apptest_support import BLEND, assert_clean, start
    from app import caching

    at = start(BLEND)
    for number, data in enumerate(checkpoints):
        at.sidebar.file_uploader(key="checkpoint_upload").set_value(
            (f"zoo{number}.pth", data, "application/octet-stream")).run()
        assert_clean(at)
        kept = at.session_state[caching.UPLOADED_MODELS_KEY]
        assert len(kept) == min(number + 1, caching.UPLOADED_MODELS_MAX)
        digest = hashlib.sha256(data).hexdigest()[:16]
        assert at.session_state["model_key"] == f"upload:{digest}"  # the new upload is the chosen model
    picker = at.sidebar.selectbox(key="_model_picker")
    assert sum(option.endswith("· upload") for option in picker.options) == caching.UPLOADED_MODELS_MAX


def test_live_training_keeps_at_most_three_models_per_session():
    from container_edu.training.job import MAX_KEPT_MODELS, keep_trained

    kept: dict = {}
    for run in range(6):
        keep_trained(kept, f"run{run}", {"model": object()})
    assert list(kept) == ["run3", "run4", "run5"]
    assert MAX_KEPT_MODELS == 3
    keep_trained(kept, "run3", {"model": object()})  # the same name again becomes the newest
    assert list(kept) == ["run4", "run5", "run3"]


def test_a_cached_inspection_does_not_keep_the_values_it_dropped():
    import torch

    from container_edu.record.inspection import run_inspection
    from container_edu import create_model

    torch.manual_seed(0)
    inspection = run_inspection(create_model("fmnist_container_light").eval(), torch.randn(1, 1, 28, 28))
    for record in inspection.records.values():
        assert record.v.untyped_storage().nbytes() == 0
        assert record.aggregated.untyped_storage().nbytes() == 0
