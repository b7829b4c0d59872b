"""Shared test setup."""

import torch

# The test models are small: a second intra-op thread buys nothing, and on a busy
# 2-core machine (CI runs the app server and a browser beside pytest) OpenMP's
# spinning threads slow small ops down by an order of magnitude.
torch.set_num_threads(1)

# No test may depend on how fast the machine is: Hypothesis' per-example deadline and its "too slow"
# health check are both timings, so they are off for every test (settings objects created in the
# test modules inherit this profile, which is loaded before they are imported).
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("no_timing", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("no_timing")


# --------------------------------------------------------------------------
# App tests (tests/test_app_*.py, tests/test_browser.py)
# --------------------------------------------------------------------------

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `app` is a folder of the repository, not an installed package
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(scope="session")
def fake_weights_dir(tmp_path_factory) -> Path:
    """A weights folder with real (random, untrained) zoo bundles and made-up 2-epoch histories.

    Written by the core's own ``write_bundle``, so the app reads it exactly as
    it reads the shipped weights; no training needed.
    """
    from container_edu.models import ZooConfig, ZooContainer
    from container_edu.training.train import EpochLog, TrainResult, TrainSettings, write_bundle

    out = tmp_path_factory.mktemp("weights")
    for mixing in ("container_light", "container", "conv"):
        settings = TrainSettings(mixing=mixing, epochs=2, train_subset=100)
        torch.manual_seed(0)
        model = ZooContainer(ZooConfig(mixing=mixing)).eval()
        blend = {"blocks2.0": [0.5, 0.5], "blocks2.1": [0.5, 0.5]} if mixing != "conv" else {}
        history = [
            EpochLog(epoch=e, train_loss=2.0 / e, train_accuracy=40.0 * e, val_accuracy=38.0 * e,
                     test_accuracy=37.0 * e, blend={k: [v[0] + 0.1 * e, v[1] - 0.1 * e] for k, v in blend.items()},
                     seconds=1.0)
            for e in (1, 2)
        ]
        write_bundle(TrainResult(model, settings, history, 2.0, 100), out, command=f"test bundle {mixing}")
    return out


@pytest.fixture
def no_weights(monkeypatch, tmp_path) -> Path:
    """The app's bundled-card folder pointed at an empty folder: every model is a random stand-in."""
    from app.registry import BUNDLED_DIR_ENV

    empty = tmp_path / "no_weights"
    empty.mkdir()
    monkeypatch.setenv(BUNDLED_DIR_ENV, str(empty))
    return empty


@pytest.fixture
def with_weights(monkeypatch, fake_weights_dir) -> Path:
    """The app's bundled-card folder pointed at :func:`fake_weights_dir`."""
    from app.registry import BUNDLED_DIR_ENV

    monkeypatch.setenv(BUNDLED_DIR_ENV, str(fake_weights_dir))
    return fake_weights_dir
