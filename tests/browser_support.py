"""What the browser tests share: a Streamlit server on a free local port, headless Chromium, and waits on conditions.

Every wait here waits for something to become true, with a generous limit
(a busy 2-core machine may take minutes to start a server or run a page); no
wait assumes how fast the machine is, and no test asserts a duration.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]
#: Upper limit for a server to answer, and for one page run or one action to show its result.
STARTUP_TIMEOUT_S = 240
ACTION_TIMEOUT_S = 240
#: The app's own "script finished" marker (Streamlit sets it on its root element).
#: Where the browser tests put their full-page screenshots (git-ignored).
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
IDLE_SELECTOR = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def require_browser() -> None:
    """Skip (not fail) where the browser or its driver is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install the Debian package 'chromium' to run the browser tests")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(log_path: Path, env: dict[str, str] | None = None, port: int | None = None) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` on 127.0.0.1 (``port``, else a free one); yields its URL once
    ``/_stcore/health`` is ok. A restart is a second server on the first one's port."""
    port = port or free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while True:
                if server.poll() is not None:
                    pytest.fail(f"the Streamlit server exited with code {server.returncode}; see {log_path}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                        if response.read().strip() == b"ok":
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"the Streamlit server did not answer /_stcore/health within {STARTUP_TIMEOUT_S} s")
                time.sleep(0.2)  # polling interval, not an assumption about speed
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """One headless Chromium (a ``playwright`` Browser); tests open contexts or pages on it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def wait_until_idle(page) -> None:
    """Wait until the app's current script run has finished.

    Only meaningful once a run is known to have started (after a page load, or
    after the result of an action became visible): right after a click the app
    may not have started the rerun yet, so actions wait for their result.
    """
    page.locator(IDLE_SELECTOR).wait_for(state="attached", timeout=ACTION_TIMEOUT_S * 1000)


def wait_for_condition(page, js_predicate: str, what: str, arg=None) -> None:
    """Wait until ``js_predicate`` (a JavaScript function of ``arg``) returns true in the page."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(js_predicate, arg=arg, timeout=ACTION_TIMEOUT_S * 1000, polling=200)
    except PlaywrightTimeout as error:
        raise AssertionError(f"{what}: not seen within {ACTION_TIMEOUT_S} s") from error


def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = ACTION_TIMEOUT_S) -> None:
    """Poll a Python ``predicate`` (e.g. one that reads the page) until it holds, for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout_s:.0f} s")
        time.sleep(0.2)  # polling interval


def assert_no_exception(page, where: str) -> None:
    count = page.locator('[data-testid="stException"]').count()
    assert count == 0, f"{where}: the page shows {count} exception element(s) (a traceback)"


def settle_frames(page) -> None:
    """Let the browser lay out and paint twice (e.g. after a viewport change, before a screenshot)."""
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def screenshot(page, name: str) -> Path:
    """A screenshot of the whole page.

    Streamlit scrolls inside its main container, so ``full_page`` alone sees
    only the viewport: the viewport is stretched to the content first.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(
        """() => Math.max(...['[data-testid="stMain"]', '[data-testid="stAppViewContainer"]', '[data-testid="stSidebar"] > div']
             .map(s => document.querySelector(s)).filter(Boolean).map(e => e.scrollHeight))"""
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(int(height) + 40, size["height"]), 8000)})
    try:
        settle_frames(page)  # Plotly resizes to the new viewport
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(size)
    return path
