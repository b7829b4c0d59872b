"""The app's Download panel for the three families (AppTest, no internet): a button per missing family installs it
from a stand-in hub on 127.0.0.1, a hostile answer is one error line that installs nothing, and a shared server
shows the administrator's command instead of buttons.

Each test gets its own weights folder (``CONTAINER_EDU_WEIGHTS_DIR``), Hugging Face cache (``HF_HOME``) and stand-in
hub (``HF_ENDPOINT``, asserted to be 127.0.0.1). The stand-in serves small random models in each family's real format
(timm's key names, fewer blocks and channels); the panel passes the matching ``configs`` to ``fetch_family``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from safetensors.torch import save
from streamlit.testing.v1 import AppTest

from apptest_support import TIMEOUT, assert_clean, assert_errors, texts
from app import deployment
from app.families import SHORT_NAMES
from app.family_weights import DOWNLOAD_BUTTON, INSTALLED, NOT_INSTALLED, PANEL_TITLE, button_key, fetch_command
from container_edu.hub import families
from container_edu.hub import weights_store as store
from container_edu.hub.family_sources import FAMILY_SOURCES
from container_edu.models import FAMILY_LABELS, FAMILY_MODELS, create_model
from hub_standin import StandInHub, serving_hub

WHERE = "t"
#: Small configs of each family (timm's key names and 1000 classes; a few blocks, few channels).
SMALL = {
    "deit_small": {"embed_dim": 48, "depth": 2, "num_heads": 3},
    "convnext_tiny": {"depths": (1, 1, 1, 1), "dims": (8, 16, 24, 32)},
    "mixer_b16": {"embed_dim": 32, "depth": 2},
}


def panel_script(configs):
    """The AppTest page: the panel alone, its return value kept for the test."""
    import streamlit as st

    from app.family_weights import family_weights_panel

    st.session_state["panel_shown"] = family_weights_panel("t", configs=configs)


def start(language: str | None = None) -> AppTest:
    at = AppTest.from_function(panel_script, kwargs={"configs": SMALL}, default_timeout=TIMEOUT)
    if language:
        at.session_state["language"] = language
    at.run()
    return at


def _weights(name: str, seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    model = create_model(name, **SMALL[name])
    return save({key: value.contiguous() for key, value in model.state_dict().items()})


def _publish(hub: StandInHub, name: str, body: bytes, **lies):
    source = FAMILY_SOURCES[name]
    return hub.publish(source.repo_id, source.revision, source.filename, body, **lies)


def _listing(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def buttons(at: AppTest) -> dict[str, object]:
    return {button.key: button for button in at.button if button.key and button.key.startswith(f"{WHERE}_fetch")}


def family_line(at: AppTest, name: str) -> str:
    label = FAMILY_LABELS[name]
    lines = [m.value for m in at.markdown if f"**{label}**" in m.value]
    assert len(lines) == 1, (name, texts(at.markdown))
    return lines[0]


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setenv(store.DIR_ENV, str(weights))
    monkeypatch.setenv(deployment.SHARED_ENV, "0")
    return weights


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with serving_hub(tmp_path, monkeypatch) as standin:
        yield standin


def test_without_weights_each_family_has_its_facts_and_a_button(folder, hub):
    at = start()
    assert_clean(at)
    assert at.session_state["panel_shown"] is True
    assert f"**{PANEL_TITLE}**" in texts(at.markdown)
    assert set(buttons(at)) == {button_key(WHERE, name) for name in FAMILY_MODELS}
    captions = texts(at.caption)
    assert str(folder) in captions
    for name in FAMILY_MODELS:
        source = FAMILY_SOURCES[name]
        assert buttons(at)[button_key(WHERE, name)].label == DOWNLOAD_BUTTON.format(model=SHORT_NAMES[name])
        assert f"**{FAMILY_LABELS[name]}**: {NOT_INSTALLED}" in family_line(at, name)  # the state in words
        assert f"{source.hub_size} to download" in captions
        assert f"`{source.repo_id}@{source.revision[:12]}`" in captions
        assert f"top-1 {source.reported_metrics['acc1']:g}%" in captions
    assert captions.count("reported by the publishers, not measured here") == 3
    assert "python -m container_edu weights import PATH --model mixer_b16" in texts(at.code)
    assert hub.log == [], "drawing the panel asks the hub nothing"


def test_the_button_installs_the_family_with_a_progress_of_its_bytes(folder, hub, monkeypatch):
    body = _weights("deit_small")
    published = _publish(hub, "deit_small", body)
    reported: list[tuple[int, int | None]] = []
    fetch = families.fetch_family

    def recording_fetch(name, *args, progress=None, **kwargs):  # what the panel's progress bar is fed
        def spy(done, total):
            reported.append((done, total))
            progress(done, total)

        return fetch(name, *args, progress=spy, **kwargs)

    monkeypatch.setattr(families, "fetch_family", recording_fetch)
    at = start()
    buttons(at)[button_key(WHERE, "deit_small")].click().run()
    assert_clean(at)
    card = families.installed_families(folder)["deit_small"]
    assert card.sha256 == hashlib.sha256(body).hexdigest()
    assert (folder / "deit_small.safetensors").read_bytes() == body
    assert reported and reported[-1] == (len(body), len(body))
    assert [method for method in published.requests if method == "GET"] == ["GET"]
    assert f"Installed {FAMILY_LABELS['deit_small']} (sha256 {card.sha256[:12]}…)" in texts(at.success)
    # After the rerun the panel reads the installed card: no button for it, its size and revision listed.
    assert set(buttons(at)) == {button_key(WHERE, "convnext_tiny"), button_key(WHERE, "mixer_b16")}
    assert f"**{FAMILY_LABELS['deit_small']}**: {INSTALLED}" in family_line(at, "deit_small")
    size = (folder / "deit_small.safetensors").stat().st_size / 1e6
    assert f"{size:.1f} MB installed" in texts(at.caption)
    assert at.session_state["panel_shown"] is True  # two families are still missing


HOSTILE = {
    "html": ({"body": b"<!doctype html><html><body>Sign in to continue</body></html>", "content_type": "text/html"},
             "is not a safetensors file: it is a web page"),
    "wrong_sha256": ({"announce_sha256": "ab" * 32}, "does not match the sha256 the hub announced"),
    "missing": (None, "has no file model.safetensors"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_answer_is_one_error_line_and_installs_nothing(folder, hub, case):
    lies, expected = HOSTILE[case]
    if lies is not None:
        _publish(hub, "mixer_b16", **{"body": _weights("mixer_b16"), **lies})
    (folder / "notes.txt").write_text("a teacher's file\n")
    before = _listing(folder)
    at = start()
    buttons(at)[button_key(WHERE, "mixer_b16")].click().run()
    assert_errors(at, expected)
    assert len(at.error) == 1
    assert "\n" not in at.error[0].value and "Traceback" not in at.error[0].value
    assert _listing(folder) == before
    assert families.installed_families(folder) == {}
    assert button_key(WHERE, "mixer_b16") in buttons(at), "the offer stays"
    assert any("/resolve/" in path for _, path in hub.log), "the button did ask the stand-in"


def test_shared_mode_shows_the_administrators_command_and_no_button(folder, hub, monkeypatch):
    monkeypatch.setenv(deployment.SHARED_ENV, "1")
    at = start()
    assert_clean(at)
    assert not buttons(at)
    assert not [button for button in at.button if "Download" in button.label]
    code = texts(at.code)
    for name in FAMILY_MODELS:
        assert fetch_command(name) in code
        assert f"**{FAMILY_LABELS[name]}**: {NOT_INSTALLED}" in family_line(at, name)
    assert "weights import PATH" not in code, "a visitor cannot give the server a file path"
    everything = " | ".join((texts(at.markdown), texts(at.caption), code))
    assert str(folder) not in everything, "a shared server's folders stay private"
    assert "administrator installs them once for everyone" in texts(at.caption)
    assert hub.log == []


def test_with_every_family_installed_the_panel_folds_and_offers_nothing(folder, hub):
    for name in FAMILY_MODELS:
        _publish(hub, name, _weights(name))
        families.fetch_family(name, folder, config=SMALL[name])
    at = start()
    assert_clean(at)
    assert at.session_state["panel_shown"] is False
    assert not buttons(at)
    assert [e.label for e in at.expander] == [f"{PANEL_TITLE}: all three installed"]
    for name in FAMILY_MODELS:
        assert f"**{FAMILY_LABELS[name]}**: {INSTALLED}" in family_line(at, name)
        assert f"`{FAMILY_SOURCES[name].repo_id}@{FAMILY_SOURCES[name].revision[:12]}`" in texts(at.caption)
    assert not at.code


def test_the_panel_in_chinese(folder, hub):
    from app.i18n import translations

    zh = translations("zh").gettext
    at = start("zh")
    assert_clean(at)
    label = zh(FAMILY_LABELS["deit_small"])
    assert label != FAMILY_LABELS["deit_small"]
    assert any(f"**{label}**" in m.value for m in at.markdown)  # the full name stays on the family's line
    assert buttons(at)[button_key(WHERE, "deit_small")].label == zh(DOWNLOAD_BUTTON).format(model=SHORT_NAMES["deit_small"])
    assert zh(DOWNLOAD_BUTTON) != DOWNLOAD_BUTTON
    assert f"**{zh(PANEL_TITLE)}**" in texts(at.markdown) and zh(PANEL_TITLE) != PANEL_TITLE
    assert "reported by the publishers" not in texts(at.caption)


def test_imported_and_random_weights_say_where_they_come_from(folder, hub, tmp_path):
    from container_edu.hub.cards import write_card

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(_weights("deit_small"))
    imported = families.import_family(weights, "deit_small", folder, config=SMALL["deit_small"])
    torch.manual_seed(0)
    model = create_model("convnext_tiny", **SMALL["convnext_tiny"])
    body = _weights("convnext_tiny")
    (folder / "convnext_tiny.safetensors").write_bytes(body)
    write_card(families.random_family_card("convnext_tiny", model, hashlib.sha256(body).hexdigest()),
               folder / "convnext_tiny.json")
    at = start()
    assert_clean(at)
    captions = texts(at.caption)
    assert f"imported from a file (sha256 `{imported.sha256[:12]}…`)" in captions
    assert str(weights) not in captions
    assert "Installed (random weights: nothing in them was learned)" in family_line(at, "convnext_tiny")
    assert "random weights, not from the hub" in captions
    assert "no accuracy reported for these weights" in captions  # random weights report none
    # the random stand-in can be replaced by the trained weights: it keeps its button, the imported file has none
    assert set(buttons(at)) == {button_key(WHERE, "mixer_b16"), button_key(WHERE, "convnext_tiny")}
    assert hub.log == []
