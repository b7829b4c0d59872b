"""The Download panel inside the "Three families" Analysis tab (the integrator's one line in app/families_view.py):
with no weights the tab offers a button per family; pressing one installs that family from a stand-in hub on
127.0.0.1 and the rerun draws the tab with the installed weights, no longer "random weights" for it.

Skipped where app/families_view.py is absent (the fam-download branch before fam-app is merged).
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save

pytest.importorskip("app.families_view")

from apptest_support import ANALYSIS, assert_clean, figure_title, figures_of, start  # noqa: E402
from app import deployment  # noqa: E402
from app.family_weights import button_key  # noqa: E402
from container_edu.hub import families  # noqa: E402
from container_edu.hub.family_sources import FAMILY_SOURCES  # noqa: E402
from container_edu.hub.weights_store import DIR_ENV  # noqa: E402
from container_edu.models import FAMILY_LABELS, create_model  # noqa: E402
from hub_standin import serving_hub  # noqa: E402

TAB = "Three families"
PREFIX = "fam"  # the Analysis tab's prefix in three_families()
#: The published architecture: the view passes no configs, so the stand-in serves a full-size random DeiT-Small.
NAME = "deit_small"


@pytest.fixture
def hub(tmp_path, monkeypatch, no_weights):
    folder = tmp_path / "family_weights"
    folder.mkdir()
    monkeypatch.setenv(DIR_ENV, str(folder))
    monkeypatch.setenv(deployment.SHARED_ENV, "0")
    with serving_hub(tmp_path, monkeypatch) as standin:
        yield standin, folder


def test_the_tab_offers_the_download_and_uses_the_installed_family(hub):
    standin, folder = hub
    torch.manual_seed(0)
    body = save({key: value.contiguous() for key, value in create_model(NAME).state_dict().items()})
    source = FAMILY_SOURCES[NAME]
    standin.publish(source.repo_id, source.revision, source.filename, body)
    at = start(ANALYSIS, {"an_tab": TAB})
    keys = {button.key for button in at.button}
    assert {button_key(PREFIX, name) for name in FAMILY_SOURCES} <= keys, (
        "three_families() draws no family_weights_panel(prefix)", keys)
    at.button(key=button_key(PREFIX, NAME)).click().run()
    assert_clean(at)
    assert NAME in families.installed_families(folder)
    assert button_key(PREFIX, NAME) not in {button.key for button in at.button}
    titles = [figure_title(figure) for figure in figures_of(at)]
    label = FAMILY_LABELS[NAME]
    assert any(t.startswith(label) and "(installed weights)" in t for t in titles), titles
