"""Shared mode (app/deployment.py): no server path reaches a loader, training waits in a queue, stale pages are told.

A server shared by a class must not read files by a path a visitor types:
the path field's messages would make it an oracle of the server's file
system. These tests run every page (and every lesson) with ``AppTest`` in
shared mode and look for any text field labelled like a path, then hand-craft
the session state the path field would have written and check that the
loaders themselves refuse it, with one message whatever the path.
"""

from __future__ import annotations

import re
import threading
from types import SimpleNamespace
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from PIL import Image
from streamlit.testing.v1 import AppTest

from apptest_support import INSPECTOR, LESSONS_PAGE, assert_clean
from apptest_support import start as run_app
from app import caching, deployment, session_keys
from app.widgets import CurrentImage
from container_edu.data.images import image_digest
from app.lessons import LESSON_KEYS
from container_edu.training.job import TrainingQueue
from app.lessons.parts.widgets import PICKER_KEY
from app.registry import BUNDLED_DIR_ENV, ModelRef
from app.sidebar import MODEL_KEY
from container_edu.hub.checkpoints import CheckpointError
from container_edu.models import ZooConfig, ZooContainer

REPO_ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "pages").glob("[0-9]*.py"))
PATH_LIKE = re.compile(r"path|folder|director|file ?name|\.pth|/", re.IGNORECASE)


@pytest.fixture
def shared(monkeypatch, fake_weights_dir) -> None:
    monkeypatch.setenv(deployment.SHARED_ENV, "1")
    monkeypatch.setenv(BUNDLED_DIR_ENV, str(fake_weights_dir))


@pytest.fixture
def private(monkeypatch, fake_weights_dir) -> None:
    monkeypatch.setenv(deployment.SHARED_ENV, "0")
    monkeypatch.setenv(BUNDLED_DIR_ENV, str(fake_weights_dir))


@pytest.fixture
def zoo_checkpoint(tmp_path) -> Path:
    """A real checkpoint file that the path loader accepts when shared mode is off."""
    torch.manual_seed(5)
    model = ZooContainer(ZooConfig(mixing="conv"))
    path = tmp_path / "zoo_conv.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def path_fields(at: AppTest) -> list[str]:
    """Labels of every free-text field on the page (main area and sidebar) that asks for something like a path."""
    fields = list(at.text_input) + list(at.text_area)
    return [f.label for f in fields if PATH_LIKE.search(f.label or "") or PATH_LIKE.search(f.placeholder or "")]


def sidebar_text(at: AppTest) -> str:
    return " | ".join(str(e.value) for e in list(at.sidebar.info) + list(at.sidebar.markdown) + list(at.sidebar.caption))


# --------------------------------------------------------------------------- the switch


def test_shared_mode_follows_the_variable_then_the_listening_address(monkeypatch):
    from streamlit import config

    real_get_option = config.get_option

    def listening_on(address):
        monkeypatch.setattr(config, "get_option",
                            lambda name: address if name == "server.address" else real_get_option(name))

    monkeypatch.delenv(deployment.SHARED_ENV, raising=False)
    for address, shared in [("127.0.0.1", False), ("::1", False), ("localhost", False), ("127.0.1.1", False),
                            ("0.0.0.0", True), ("::", True), ("", True), (None, True), ("192.168.1.20", True)]:
        listening_on(address)
        assert deployment.shared_mode() is shared, address
    listening_on("127.0.0.1")
    monkeypatch.setenv(deployment.SHARED_ENV, "1")
    assert deployment.shared_mode()
    listening_on("0.0.0.0")
    monkeypatch.setenv(deployment.SHARED_ENV, "0")
    assert not deployment.shared_mode()
    monkeypatch.setenv(deployment.SHARED_ENV, "maybe")  # unreadable: the safe side
    assert deployment.shared_mode()


def test_the_projects_config_listens_on_loopback_so_a_plain_run_is_private(monkeypatch):
    from streamlit import config

    monkeypatch.delenv(deployment.SHARED_ENV, raising=False)
    assert deployment.listens_on_loopback_only(config.get_option("server.address"))


# --------------------------------------------------------------------------- no path field anywhere


@pytest.mark.parametrize("page", PAGES)
def test_no_page_offers_a_path_field_in_shared_mode(shared, page):
    at = run_app(page)
    assert path_fields(at) == []
    assert "Shared server" in sidebar_text(at)


def test_no_lesson_offers_a_path_field_in_shared_mode(shared):
    from lesson_support import walk_steps

    at = run_app(LESSONS_PAGE)
    for key in LESSON_KEYS:
        for step in walk_steps(at, key):
            assert not at.exception, (key, step)  # a lesson that failed would show no path field either
            assert path_fields(at) == [], (key, step)


def test_the_detector_finds_the_path_field_when_the_server_is_private(private):
    """The control: the same check sees the laptop's path field, so its silence in shared mode means something."""
    at = run_app(INSPECTOR)
    assert path_fields(at) == ["Checkpoint path"]
    assert "Shared server" not in sidebar_text(at)


# --------------------------------------------------------------------------- crafted state cannot load a path


def test_crafted_widget_state_cannot_load_a_server_path(shared, zoo_checkpoint, monkeypatch):
    from app import registry

    calls: list = []
    real_loader = registry.load_checkpoint_model

    def recording_loader(source, *args, **kwargs):
        calls.append(source)
        return real_loader(source, *args, **kwargs)

    monkeypatch.setattr(registry, "load_checkpoint_model", recording_loader)
    ref = ModelRef(key=f"checkpoint:{zoo_checkpoint}:1:1", label="crafted", source="checkpoint",
                   name=zoo_checkpoint.name, dataset=registry.FASHION_MNIST, trained=True)
    stat = zoo_checkpoint.stat()
    crafted = {
        # what the path field and its button would have left in the session
        "checkpoint_path": str(zoo_checkpoint),
        "checkpoint_load": True,
        # and what a successful load would have stored, pointing the picker at it
        caching.LOADED_CHECKPOINTS_KEY: {ref.key: {"ref": ref, "path": str(zoo_checkpoint),
                                                   "mtime_ns": stat.st_mtime_ns, "size": stat.st_size}},
        MODEL_KEY: ref.key,
    }
    at = run_app(INSPECTOR, session=crafted)
    picker = at.sidebar.selectbox(key="_model_picker")
    assert ref.key not in picker.options and picker.value != ref.key
    assert at.session_state[MODEL_KEY] != ref.key
    assert [c for c in calls if isinstance(c, (str, Path))] == []
    # The loaders themselves refuse, not only the hidden widget.
    with pytest.raises(deployment.ServerPathRefused):
        caching.load_checkpoint_from_path(str(zoo_checkpoint))
    with pytest.raises(deployment.ServerPathRefused):
        caching.get_model(ref, crafted)
    assert [c for c in calls if isinstance(c, (str, Path))] == []


def test_refusal_says_the_same_whatever_the_path(shared, zoo_checkpoint, tmp_path):
    """No oracle: an existing checkpoint, a text file, a folder, an empty file and a missing path read alike."""
    text = tmp_path / "notes.txt"
    text.write_text("root:x:0:0")
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    messages = set()
    for path in (zoo_checkpoint, text, tmp_path, empty, tmp_path / "missing.pth", "", "~/.ssh/id_rsa"):
        with pytest.raises(CheckpointError) as caught:
            caching.load_checkpoint_from_path(str(path))
        messages.add(str(caught.value))
    assert messages == {deployment.SERVER_PATHS_REFUSED}


def test_the_path_loader_works_when_the_server_is_private(private, zoo_checkpoint):
    """The control for the refusal: the very same call loads the file when shared mode is off."""
    entry = caching.load_checkpoint_from_path(str(zoo_checkpoint))
    assert entry["ref"].source == "checkpoint" and entry["path"] == str(zoo_checkpoint.resolve())
    assert caching.get_model(entry["ref"], {caching.LOADED_CHECKPOINTS_KEY: {entry["ref"].key: entry}}).config.mixing \
        == "conv"


# --------------------------------------------------------------------------- a page that outlived its session


def test_a_fresh_visit_keeps_a_clean_address_until_it_holds_an_upload(private):
    at = run_app(None)
    assert at.query_params.get(deployment.SESSION_QUERY_PARAM) is None, "a copied link carries no session"
    assert not [w for w in at.warning if "new session" in w.value]
    at.run()
    assert at.query_params.get(deployment.SESSION_QUERY_PARAM) is None
    # An uploaded image is work a new session would not have: from now on the address names the session.
    picture = Image.new("RGB", (8, 8))
    at.session_state[session_keys.CURRENT_IMAGE_KEY] = CurrentImage(picture, image_digest(picture), "upload: cat.png")
    at.run()
    token = at.query_params.get(deployment.SESSION_QUERY_PARAM)
    assert isinstance(token, str) and len(token) >= 8
    at.run()  # a rerun of the same session keeps its token and says nothing
    assert at.query_params.get(deployment.SESSION_QUERY_PARAM) == token
    assert not [w for w in at.warning if "new session" in w.value]


def test_session_holds_work_only_with_an_upload_or_a_trained_model():
    assert not session_keys.holds_work({})
    assert not session_keys.holds_work({session_keys.CURRENT_IMAGE_KEY: SimpleNamespace(label="sample: cat.png")})
    assert session_keys.holds_work({session_keys.CURRENT_IMAGE_KEY: SimpleNamespace(label="upload: cat.png")})
    assert session_keys.holds_work({session_keys.TRAINED_MODELS_KEY: {"run": object()}})
    assert session_keys.holds_work({session_keys.UPLOADED_MODELS_KEY: {"ckpt": object()}})


def test_a_page_from_an_ended_session_is_told_until_acknowledged(private):
    at = run_app(INSPECTOR, query={deployment.SESSION_QUERY_PARAM: "token-of-a-session-on-another-server"})
    notices = [w.value for w in at.warning if "new session" in w.value]
    assert notices == [deployment.NEW_SESSION_MESSAGE]
    assert at.query_params.get(deployment.SESSION_QUERY_PARAM) != "token-of-a-session-on-another-server"
    at.run()
    assert [w.value for w in at.warning if "new session" in w.value] == notices  # stays until acknowledged
    at.button(key="_deployment_new_session_ok").click().run()
    assert not [w for w in at.warning if "new session" in w.value]
    assert_clean(at)


# --------------------------------------------------------------------------- the training queue


class FakeJob:
    def __init__(self, name: str) -> None:
        self.name = name
        self.stop = threading.Event()

    def stop_requested(self) -> bool:
        return self.stop.is_set()


def test_training_queue_runs_in_order_within_its_slots_and_reports_positions():
    queue = TrainingQueue(slots=1, max_waiting=3)
    jobs = [FakeJob(f"j{i}") for i in range(4)]
    assert all(queue.enqueue(job) for job in jobs[:3])
    assert not queue.enqueue(jobs[3]), "a full queue refuses"
    assert [queue.position(job) for job in jobs[:3]] == [1, 2, 3]
    assert queue.wait_turn(jobs[0], jobs[0].stop_requested, timeout=5)
    assert [queue.position(job) for job in jobs[:3]] == [0, 1, 2]  # 0: running
    # j1 cannot start while j0 holds the only slot
    assert not queue.wait_turn(jobs[1], jobs[1].stop_requested, timeout=0.2)
    assert queue.position(jobs[1]) == 1
    assert queue.enqueue(jobs[3])  # j0 left the waiting line, so there is room again
    queue.done(jobs[0])
    assert queue.position(jobs[0]) is None
    # j2 may not jump the line
    assert not queue.wait_turn(jobs[2], jobs[2].stop_requested, timeout=0.2)
    assert queue.wait_turn(jobs[1], jobs[1].stop_requested, timeout=5)
    queue.done(jobs[1])
    # a job stopped while waiting leaves the line; the one behind it moves up
    jobs[2].stop.set()
    assert not queue.wait_turn(jobs[2], jobs[2].stop_requested, timeout=5)
    queue.cancel(jobs[2])
    assert queue.position(jobs[2]) is None and queue.position(jobs[3]) == 1
    assert queue.wait_turn(jobs[3], jobs[3].stop_requested, timeout=5)
    queue.done(jobs[3])
    assert queue.snapshot() == (0, 0)


def test_training_queue_lets_as_many_run_as_it_has_slots():
    queue = TrainingQueue(slots=2, max_waiting=4)
    jobs = [FakeJob(f"j{i}") for i in range(3)]
    for job in jobs:
        assert queue.enqueue(job)
    started = []
    threads = [threading.Thread(target=lambda j=j: started.append(j.name) if queue.wait_turn(j, j.stop_requested,
                                                                                              timeout=30) else None)
               for j in jobs]
    for thread in threads:
        thread.start()
    threads[0].join(30)
    threads[1].join(30)
    assert sorted(started) == ["j0", "j1"] and queue.position(jobs[2]) == 1
    queue.done(jobs[0])
    threads[2].join(30)
    assert sorted(started) == ["j0", "j1", "j2"]


def test_the_training_lesson_shows_the_learners_place_in_the_queue(shared):
    from container_edu.training import job as training_job
    from container_edu.data.fashion_mnist import DatasetError, load_fashion_mnist

    try:
        load_fashion_mnist("test")
    except DatasetError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): Start stays disabled")
    queue = training_job.TRAINING_QUEUE
    holders = [FakeJob(f"other learner {i}") for i in range(queue.slots)]
    for holder in holders:  # every slot is busy with someone else's run
        assert queue.enqueue(holder) and queue.wait_turn(holder, holder.stop_requested, timeout=30)
    job = None
    try:
        at = run_app(LESSONS_PAGE)
        at.selectbox(key=PICKER_KEY).set_value("train").run()
        at.segmented_control(key="train_step").set_value("predict").run()
        at.radio(key="train_prediction").set_value(at.radio(key="train_prediction").options[0]).run()
        at.segmented_control(key="train_step").set_value("run").run()  # the run is offered after the prediction
        at.text_input(key="train_name").set_value("queued_run").run()
        at.button(key="train_start").click().run()
        job = at.session_state["train_job"]
        assert job.status == "queued" and job.queue_position() == 1
        assert any("number 1 in the queue" in i.value for i in at.info), [i.value for i in at.info]
        at.button(key="train_stop").click().run()
        assert job.wait(30) and job.status == "cancelled" and job.result is None
        assert queue.position(job) is None
        at.run()
        assert_clean(at)
        assert "queued_run" not in (at.session_state["trained_models"] if "trained_models" in at.session_state else {})
    finally:
        if job is not None:  # never leave a real run waiting to train after this test
            job.request_stop()
            job.wait(30)
        for holder in holders:
            queue.done(holder)


# --------------------------------------------------------------------------- the ImageNet weights offer


def test_shared_mode_offers_no_download_and_names_no_server_folder(shared, monkeypatch, tmp_path):
    from container_edu.hub import weights_store

    store = tmp_path / "store"
    store.mkdir()
    monkeypatch.setenv(weights_store.DIR_ENV, str(store))
    for page in (None, "pages/3_Image_inspector.py"):
        at = run_app(page)
        assert not [b for b in at.button if "fetch_imagenet_weights" in str(b.key)]
        shown = " | ".join(str(e.value) for e in list(at.caption) + list(at.sidebar.caption) + list(at.markdown))
        assert "administrator" in shown and str(store) not in shown


def test_private_mode_offers_the_download(private, monkeypatch, tmp_path):
    from container_edu.hub import weights_store

    monkeypatch.setenv(weights_store.DIR_ENV, str(tmp_path))
    at = run_app(None)
    assert [b for b in at.button if "fetch_imagenet_weights" in str(b.key)]
