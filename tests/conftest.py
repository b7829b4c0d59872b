"""Shared test setup and fixtures (AppTest helpers are in ``apptest_support.py``)."""

import os

import torch

# A page that crashes must fail its test: the app draws an unexpected exception as a friendly message and,
# with this setting, raises it again (app.errors.RAISE_UNEXPECTED_ENV). Set here, before any app module
# or Streamlit server started by a test reads it.
os.environ["CONTAINER_EDU_RAISE_UNEXPECTED"] = "1"

# Learner progress goes to a database of the test run's own (never the user's data folder); a run pointed at a
# PostgreSQL server (CI's second configuration) keeps that one.
import tempfile  # noqa: E402

os.environ.setdefault("CONTAINER_EDU_DATABASE_URL",
                      f"sqlite:///{tempfile.mkdtemp(prefix='ce-progress-')}/progress.sqlite3")

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
    from container_edu.models import ZooConfig, ZooContainer, blend_parameters
    from container_edu.training.train import EpochLog, TrainResult, TrainSettings, write_bundle

    out = tmp_path_factory.mktemp("weights")
    for mixing in ("container_light", "container", "conv"):
        settings = TrainSettings(mixing=mixing, epochs=2, train_subset=100)
        torch.manual_seed(0)
        model = ZooContainer(ZooConfig(mixing=mixing)).eval()
        # The last epoch's blend is the weights' own, as after real training (lesson 7 checks the card against
        # the weights); the first epoch's is made up.
        learned = blend_parameters(model)
        history = [
            EpochLog(epoch=e, train_loss=2.0 / e, train_accuracy=40.0 * e, val_accuracy=38.0 * e,
                     test_accuracy=37.0 * e,
                     blend={k: [alpha - 0.1 * (2 - e), beta + 0.1 * (2 - e)] for k, (alpha, beta) in learned.items()},
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


# --------------------------------------------------------------------------
# The authors' ImageNet release, served on 127.0.0.1 (tests/weights_server.py)
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """A stand-in of the authors' release (a DeiT-style checkpoint of a random Container-Light) on disk."""
    from weights_server import write_release

    return write_release(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="module")
def server(release):
    """:func:`release` served over HTTP on 127.0.0.1, directly and behind a Drive-shaped warning page."""
    from weights_server import ReleaseServer

    with ReleaseServer(release) as running:
        yield running


# --------------------------------------------------------------------------
# Models that look trained (for tests where an initial 0 / 1 statistic would make a check trivial)
# --------------------------------------------------------------------------


def trained_looking(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """``model`` in eval mode with random BatchNorm statistics and affine parameters and random blend weights
    (``sa_weight``, ``alpha``, ``beta``), drawn from their own generator: the global seed is left alone."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(0.1 * torch.randn(module.num_features, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(module.num_features, generator=generator))
                module.weight.copy_(1 + 0.1 * torch.randn(module.num_features, generator=generator))
                module.bias.copy_(0.1 * torch.randn(module.num_features, generator=generator))
        for name, parameter in model.named_parameters():
            if name.endswith(("sa_weight", ".alpha", ".beta")):
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return model.eval()


@pytest.fixture(scope="session")
def make_trained_looking():
    """:func:`trained_looking`, for tests that build their own models (``make_trained_looking(model, seed)``)."""
    return trained_looking


@pytest.fixture(scope="module")
def trained_looking_container_light() -> torch.nn.Module:
    """The ImageNet Container-Light (initial weights of seed 0) with trained-looking statistics; one per module."""
    from container_edu.models import create_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return trained_looking(create_model("container_light"), seed=1)


# --------------------------------------------------------------------------
# Every AppTest run fails its test when the page raised
# --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def apptest_runs_fail_on_an_exception(monkeypatch):
    """Fail at the first AppTest run (the first one, or one after a widget change) that ends with an exception.

    With ``CONTAINER_EDU_RAISE_UNEXPECTED`` an unexpected exception in a page reaches ``at.exception``; a test
    that only looks for what a page must not show (say, a path field) would pass on the crashed page unless
    every run is checked, so every run is, here. Error boxes are the tests' own business (``assert_clean``).
    """
    from streamlit.testing.v1 import AppTest

    run = AppTest._run

    def checked_run(self, *args, **kwargs):
        at = run(self, *args, **kwargs)
        assert not at.exception, (f"the page raised; its error boxes say: {' | '.join(e.value for e in at.error)}",
                                  [e.value for e in at.exception])
        return at

    monkeypatch.setattr(AppTest, "_run", checked_run)


# --------------------------------------------------------------------------
# The learner-progress database: SQLite, and a real PostgreSQL (tests/postgres_support.py) for the whole run
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url():
    from postgres_support import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A migrated progress database of each kind: a fresh SQLite file, or the run's PostgreSQL server."""
    from container_edu.progress.database import open_database

    if request.param == "sqlite":
        engine = open_database(f"sqlite:///{tmp_path / 'progress.sqlite3'}")
    else:
        engine = open_database(request.getfixturevalue("postgres_url"))
    yield engine
    engine.dispose()
