#!/usr/bin/env python
"""A classroom on one machine: N app replicas behind HAProxy, M browser sessions through it.

    python tools/classroom.py --replicas 2 --sessions 4
    python tools/classroom.py --replicas 2 --sessions 4 --kill-one
    python tools/classroom.py --replicas 2 --learners 6 --kill-one --database sqlite|postgresql

With ``--learners`` the learners answer lessons instead of uploading images, and the run counts the answers the
database kept (tools/lesson_classroom.py). Without it:

Starts N ``streamlit run streamlit_app.py`` servers (shared mode) on free
127.0.0.1 ports and Debian's ``haproxy`` in front of them, configured from
``deploy/haproxy.cfg`` (sticky sessions by the ``CONTAINER_EDU_REPLICA``
cookie, health checks on ``/_stcore/health``, websockets proxied). Then M
sessions, one headless Chromium context each, open the Image inspector
through the proxy (one after the other, so that HAProxy's leastconn sees the
earlier sessions' websockets) and, ``--uploads`` times each, upload their own distinct
image and wait until the page shows that image's prediction (computed
offline by the app's own code). A session that is shown another session's
result is a *mismatch*; an exception, an error alert, a browser failure or a
result not shown within ``--action-timeout`` is an *error*.

``--kill-one`` kills (SIGKILL, as a crash would) the replica of the first
session once every session has seen its own results, and then every session
uploads one more image. The sessions of the killed replica must reconnect to
another one (their cookie changes) and see the app's "This is a new session"
notice; as the notice asks, they upload again when the move lost their
upload (it does: the new session starts on the sample gallery, counted in
``uploads_to_repeat_after_the_move``), and must then get their own
prediction. The others must carry on without that notice.

Prints one JSON object on stdout (progress goes to stderr)::

    {"replicas": N, "sessions": M, "errors": [...], "mismatches": [...],
     "sessions_per_replica": {"app1": ..., "app2": ...}, ...}

``sessions_per_replica`` is where HAProxy placed each session first. Exit
status 0 when there are no errors and no mismatches. The number of actions is
bounded (``sessions x (uploads + 1)``); every wait is for a condition, with a
generous timeout, and a hard limit stops the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO_ROOT = TOOLS.parent
for folder in (str(TOOLS), str(REPO_ROOT)):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from learner_images import Expected, expected_images, shows  # noqa: E402
from replicas import REPLICA_COOKIE, AppServer, Proxy, haproxy_binary  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]
PREDICTION_TITLE = "Prediction p(class"
NEW_SESSION_TEXT = "This is a new session"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# One browser session
# --------------------------------------------------------------------------------------------------

STATE_JS = """() => {
  const out = {prediction: null, exceptions: 0, errors: [], notice: false, running: false};
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const layout = gd.layout || {};
    const title = String((layout.title && (layout.title.text || layout.title)) || '');
    if (title.includes('%PREDICTION%') && gd.data && gd.data.length) {
      out.prediction = {labels: Array.from(gd.data[0].y || []).reverse(), texts: Array.from(gd.data[0].text || []).reverse()};
    }
  }
  out.exceptions = document.querySelectorAll('[data-testid="stException"]').length;
  for (const e of document.querySelectorAll('[data-testid="stAlertContentError"]')) out.errors.push(e.innerText);
  for (const e of document.querySelectorAll('[data-testid="stAlertContentWarning"]'))
    if (e.innerText.includes('%NOTICE%')) out.notice = true;
  out.running = document.querySelectorAll('[data-testid="stStatusWidget"]').length > 0;
  return out;
}""".replace("%PREDICTION%", PREDICTION_TITLE).replace("%NOTICE%", NEW_SESSION_TEXT)


# Streamlit's frontend marks its connection state on the app's root element; an observer keeps every change, so a
# disconnect followed by a quick reconnect is not missed between two polls.
WATCH_CONNECTION_JS = """() => {
  const root = document.querySelector('[data-testid="stApp"]');
  window.__connectionStates = [root.getAttribute('data-test-connection-state')];
  new MutationObserver(() => window.__connectionStates.push(root.getAttribute('data-test-connection-state')))
    .observe(root, {attributes: true, attributeFilter: ['data-test-connection-state']});
}"""
CONNECTION_JS = """() => ({now: document.querySelector('[data-testid="stApp"]').getAttribute('data-test-connection-state'),
                   seen: window.__connectionStates || []})"""


class ActionFailed(Exception):
    def __init__(self, message: str, mismatch: bool = False) -> None:
        super().__init__(message)
        self.mismatch = mismatch


@dataclass
class Session:
    index: int
    images: list[Expected]
    everyone: list[Expected]
    timeout: float
    shots: Path
    context: object = None
    page: object = None
    replica: str | None = None        # where HAProxy placed it first
    final_replica: str | None = None
    own_results: int = 0
    notice_seen: bool = False
    lost_uploads: int = 0  # uploads the move to a new replica swallowed (the learner was told to upload again)
    errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    def identify(self, shown: dict | None) -> Expected | None:
        return next((image for image in self.everyone if shows(shown, image)), None)

    async def replica_cookie(self) -> str | None:
        cookies = await self.context.cookies()
        return next((c["value"] for c in cookies if c["name"] == REPLICA_COOKIE), None)

    async def open(self, browser, url: str) -> None:
        self.context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = await self.context.new_page()
        self.page.set_default_timeout(self.timeout * 1000)
        await self.page.goto(f"{url}/Image_inspector")
        await self.page.get_by_role("heading", name="Image inspector").first.wait_for()
        await self.choose_upload()
        self.replica = self.final_replica = await self.replica_cookie()
        await self.page.evaluate(WATCH_CONNECTION_JS)

    async def wait_connected(self, after_a_disconnect: bool) -> None:
        """Wait as a learner would while the page says "Connecting" (and, if ``after_a_disconnect``, until the page
        has noticed that its server went away and has connected again)."""
        deadline = time.monotonic() + self.timeout
        state: dict = {}
        while time.monotonic() < deadline:
            state = await self.page.evaluate(CONNECTION_JS)
            noticed = not after_a_disconnect or any(s != "CONNECTED" for s in state["seen"])
            if noticed and state["now"] == "CONNECTED":
                return
            await asyncio.sleep(0.1)
        raise ActionFailed(f"session {self.index}: the page did not "
                           f"{'reconnect' if after_a_disconnect else 'connect'} within {self.timeout:.0f} s "
                           f"(connection states seen: {state.get('seen')})")

    async def poll(self, done, what: str, timeout: float | None = None) -> dict:
        """Read the page until ``done(state)``; a traceback, an error alert or another session's result fails.

        ``timeout``: seconds to wait (default: the session's action timeout)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        state: dict = {}
        while time.monotonic() < deadline:
            state = await self.page.evaluate(STATE_JS)
            seen = self.identify(state["prediction"])
            if seen is not None and seen.session != self.index:
                raise ActionFailed(f"session {self.index}, {what}: shown the prediction of {seen.name}, another "
                                   "session's image", mismatch=True)
            if state["exceptions"]:
                raise ActionFailed(f"session {self.index}, {what}: the page shows a traceback")
            if state["errors"]:
                raise ActionFailed(f"session {self.index}, {what}: error alert {state['errors'][0][:200]!r}")
            self.notice_seen = self.notice_seen or state["notice"]
            if done(state):
                return state
            await asyncio.sleep(0.25)
        shot = await self.screenshot(f"session{self.index}-{len(self.errors)}")
        raise ActionFailed(f"session {self.index}, {what}: not done within {timeout:.0f} s (prediction shown: "
                           f"{state.get('prediction')}; screenshot {shot})")

    async def choose_upload(self) -> object:
        """The inspector's file input, after switching the image source to "Upload an image" if needed."""
        main = self.page.locator('[data-testid="stMain"]')
        file_input = main.locator('input[type="file"]').first
        if not await file_input.count():
            await main.get_by_text("Upload an image", exact=True).click()
            await file_input.wait_for(state="attached")
        return file_input

    async def put_file(self, image: Expected, attempts: int = 4) -> None:
        """Give ``image`` to the file input. The page may redraw between finding the input and using it (a session
        that moved to another replica falls back to the sample gallery, which removes the uploader): then look
        again, as a learner would, a bounded number of times."""
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        for attempt in range(attempts):
            file_input = await self.choose_upload()
            try:
                await file_input.set_input_files(
                    files=[{"name": image.name, "mimeType": "image/png", "buffer": image.png}],
                    timeout=self.timeout * 1000 / attempts)
                return
            except PlaywrightTimeout:
                if attempt + 1 == attempts:
                    raise

    async def upload(self, image: Expected) -> dict:
        """Upload ``image`` and wait until the page shows its prediction."""
        await self.put_file(image)
        state = await self.poll(lambda s: self.identify(s["prediction"]) is image and not s["running"],
                                f"upload {image.name}")
        self.own_results += 1
        return state

    async def upload_after_moving(self, image: Expected) -> dict:
        """A learner whose replica went away uploads: the first run on the new replica must say that the session is
        new; if that run lost the upload (it did: the new session starts on the sample gallery), the learner does
        what the notice says and uploads again."""
        await self.put_file(image)
        state = await self.poll(lambda s: (s["notice"] or self.identify(s["prediction"]) is image)
                                and not s["running"], f"first upload {image.name} after the move")
        if self.identify(state["prediction"]) is image:
            self.own_results += 1
            return state
        self.lost_uploads += 1
        return await self.upload(image)

    async def acknowledge_notice(self, attempts: int = 3) -> None:
        """Press "Got it" until the notice goes. A press that lands while the page reruns can be lost (seen once in
        CI with a core kept busy: the notice stayed); a learner presses again, a bounded number of times."""
        for attempt in range(attempts):
            await self.page.get_by_role("button", name="Got it").click()
            try:
                await self.poll(lambda s: not s["notice"] and not s["running"], "acknowledging the new-session notice",
                                timeout=self.timeout / attempts)
                return
            except ActionFailed as failure:
                if failure.mismatch or "not done within" not in str(failure) or attempt + 1 == attempts:
                    raise

    async def screenshot(self, name: str) -> Path | None:
        try:
            path = self.shots / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            await self.page.screenshot(path=str(path), full_page=True)
            (self.shots / f"{name}.txt").write_text(await self.page.locator("body").inner_text())
            return path
        except Exception:  # noqa: BLE001 - a screenshot is a courtesy
            return None

    async def close(self) -> None:
        if self.context is not None:
            await self.context.close()


def _record(session: Session, error: Exception) -> None:
    if isinstance(error, ActionFailed):
        (session.mismatches if error.mismatch else session.errors).append(str(error))
    else:  # a browser failure is a result of this run, not a crash of the tool
        session.errors.append(f"session {session.index}: {type(error).__name__}: {str(error)[:300]}")


async def open_session(session: Session, browser, url: str) -> None:
    try:
        await session.open(browser, url)
    except Exception as error:  # noqa: BLE001
        _record(session, error)


async def first_phase(session: Session, uploads: int) -> None:
    if session.page is None or session.errors:
        return
    try:
        for image in session.images[:uploads]:
            await session.upload(image)
    except Exception as error:  # noqa: BLE001
        _record(session, error)


async def second_phase(session: Session, killed: str | None) -> None:
    """One more upload; a session whose replica was killed must land on another one and be told it is new."""
    if session.page is None or session.errors or session.mismatches:
        return
    moved = killed is not None and session.replica == killed
    try:
        await session.wait_connected(after_a_disconnect=moved)
        if moved:
            await session.upload_after_moving(session.images[-1])
        else:
            await session.upload(session.images[-1])
        session.final_replica = await session.replica_cookie()
        if moved and session.final_replica == killed:
            session.errors.append(f"session {session.index}: still routed to the killed replica {killed}")
        if moved and not session.notice_seen:
            session.errors.append(f"session {session.index}: moved from {killed} to {session.final_replica} but "
                                  "the page never said that this is a new session")
        if moved and session.notice_seen:
            await session.acknowledge_notice()
        if not moved and session.notice_seen:
            session.errors.append(f"session {session.index}: said it is a new session although its replica "
                                  f"{session.replica} kept running")
        if not moved and session.final_replica != session.replica:
            session.errors.append(f"session {session.index}: moved from {session.replica} to "
                                  f"{session.final_replica} although that replica kept running")
    except Exception as error:  # noqa: BLE001
        _record(session, error)


async def warm_up(browser, server: AppServer, timeout: float) -> None:
    """Open the home page, then the inspector, on one replica directly: the entry point's navigation runs first (see
    ``app.navigation.ensure_navigation``) and the default model is loaded before any learner arrives."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        page.set_default_timeout(timeout * 1000)
        await page.goto(f"{server.url}/")
        await page.locator(".js-plotly-plot").first.wait_for()
        await page.goto(f"{server.url}/Image_inspector")
        await page.get_by_text("What the model sees").first.wait_for()
    finally:
        await context.close()


async def drive(servers: list[AppServer], proxy: Proxy, pools: list[list[Expected]], uploads: int,
                kill_one: bool, timeout: float) -> tuple[list[Session], str | None]:
    from playwright.async_api import async_playwright

    everyone = [image for pool in pools for image in pool]
    sessions = [Session(i, pool, everyone, timeout, proxy.work_dir / "screenshots") for i, pool in enumerate(pools)]
    killed = None
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            await asyncio.gather(*(warm_up(browser, server, timeout) for server in servers))
            log(f"replicas warmed up; {len(sessions)} sessions through {proxy.url} ...")
            # One after the other, so that each new browser finds the others' websockets open and HAProxy's
            # leastconn spreads them evenly; then all at once.
            for session in sessions:
                await open_session(session, browser, proxy.url)
            await asyncio.gather(*(first_phase(s, uploads) for s in sessions))
            if kill_one:
                killed = next((s.replica for s in sessions if s.replica), servers[0].name)
                victim = next(server for server in servers if server.name == killed)
                log(f"killing replica {killed} (pid {victim.pid}) ...")
                victim.kill()
            await asyncio.gather(*(second_phase(s, killed) for s in sessions))
        finally:
            for session in sessions:
                try:
                    await session.close()
                except Exception:  # noqa: BLE001 - closing a context of a dead page must not hide the results
                    pass
            await browser.close()
    return sessions, killed


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def summary(args, servers: list[AppServer], sessions: list[Session], killed: str | None, elapsed: float) -> dict:
    placed = Counter(s.replica for s in sessions if s.replica)
    return {
        "replicas": args.replicas,
        "sessions": args.sessions,
        "errors": [e for s in sessions for e in s.errors],
        "mismatches": [m for s in sessions for m in s.mismatches],
        "sessions_per_replica": {server.name: placed.get(server.name, 0) for server in servers},
        "killed_replica": killed,
        "moved_sessions": {s.index: f"{s.replica} -> {s.final_replica}" for s in sessions
                           if s.replica != s.final_replica},
        "new_session_notices": sum(s.notice_seen for s in sessions),
        "uploads_to_repeat_after_the_move": sum(s.lost_uploads for s in sessions),
        "own_results": {s.index: s.own_results for s in sessions},
        "elapsed_s": round(elapsed, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=2, help="app servers behind the proxy (default 2)")
    parser.add_argument("--sessions", type=int, default=4, help="browser sessions (default 4)")
    parser.add_argument("--uploads", type=int, default=2, help="images each session uploads before the end "
                        "phase (default 2)")
    parser.add_argument("--kill-one", action="store_true", help="kill one replica after the first phase")
    parser.add_argument("--startup-timeout", type=float, default=240.0, help="seconds to wait for a server")
    parser.add_argument("--action-timeout", type=float, default=180.0, help="seconds one action may take")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "test-artifacts" / "classroom",
                        help="logs and the generated haproxy.cfg (default test-artifacts/classroom)")
    parser.add_argument("--learners", type=int, default=0,
                        help="learners who answer lessons (tools/lesson_classroom.py) instead of image sessions")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="with --learners: one SQLite file for every replica, or a PostgreSQL server")
    parser.add_argument("--database-url", default=None,
                        help="with --learners: a running database instead of a throw-away one")
    args = parser.parse_args(argv)
    if args.learners < 0:
        parser.error("--learners must be at least 1")
    if args.replicas < 1 or args.sessions < 1 or args.uploads < 1:
        parser.error("--replicas, --sessions and --uploads must be at least 1")
    if args.kill_one and args.replicas < 2:
        parser.error("--kill-one needs at least 2 replicas")
    missing = [what for what, ok in (("haproxy (apt-get install haproxy)", haproxy_binary()),
                                     (f"{CHROMIUM} (apt-get install chromium)", CHROMIUM.exists())) if not ok]
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package")
    if missing:
        log("missing: " + "; ".join(missing))
        return 2

    if args.learners:
        import lesson_classroom

        hard_limit = 2 * args.startup_timeout + 24 * args.action_timeout + 120
        signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError(f"ran past {hard_limit:.0f} s")))
        signal.alarm(int(hard_limit))
        try:
            return lesson_classroom.run(args, log)
        finally:
            signal.alarm(0)

    hard_limit = 2 * args.startup_timeout + (args.uploads + 3) * args.action_timeout + 120
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError(f"ran past {hard_limit:.0f} s")))
    signal.alarm(int(hard_limit))
    started = time.monotonic()
    log(f"preparing {args.sessions} x {args.uploads + 1} distinct images and their predictions ...")
    pools = expected_images(args.sessions, args.uploads + 1)
    servers = [AppServer(f"app{i + 1}", args.work_dir / f"app{i + 1}.log") for i in range(args.replicas)]
    proxy = Proxy(servers, args.work_dir)
    try:
        for server in servers:
            server.start()
        for server in servers:
            seconds = server.wait_ready(args.startup_timeout)
            log(f"{server.name} up at {server.url} after {seconds:.1f} s (pid {server.pid})")
        proxy.start(args.startup_timeout)
        log(f"haproxy up at {proxy.url} (config {args.work_dir / 'haproxy.cfg'})")
        sessions, killed = asyncio.run(drive(servers, proxy, pools, args.uploads, args.kill_one, args.action_timeout))
    finally:
        proxy.stop()
        for server in servers:
            server.stop()
        signal.alarm(0)
    result = summary(args, servers, sessions, killed, time.monotonic() - started)
    print(json.dumps(result, indent=2))
    return 0 if not result["errors"] and not result["mismatches"] else 1


if __name__ == "__main__":
    sys.exit(main())
