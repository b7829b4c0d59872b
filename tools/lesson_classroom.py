"""The classroom with learners answering lessons: does a killed replica lose any answer? (``classroom.py --learners``)

    python tools/classroom.py --replicas 2 --learners 6 --kill-one --database sqlite
    python tools/classroom.py --replicas 2 --learners 6 --kill-one --database postgresql [--database-url URL]

N app replicas (shared mode) behind Debian's HAProxy, all writing learner progress to one database: a SQLite file
on this machine, or PostgreSQL (a throw-away server from the Debian binaries, tools/postgres.py, unless
``--database-url`` names one). Each learner, a headless Chromium context through the proxy, opens lesson 1's
questions (a first visit makes their learner code, kept in the address) and answers each question twice, wrong
then right; an answer counts as *sent* once the page shows its feedback, which the app draws after storing it.
With ``--kill-one`` the replica of the first learner is killed (SIGKILL) after that phase; the learners it served
reconnect to another replica, answer one question again on the same page (the new session must find them by the
code in the address), then everyone answers lesson 2's questions. At the end the answers stored for each learner
are counted in the database. Last line of stdout, one JSON object::

    {"replicas": N, "learners": M, "answers_sent": S, "answers_stored": T, "lost": S - T, "errors": [...], ...}

Exit status 0 when nothing was lost and there were no errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from replicas import REPLICA_COOKIE, AppServer, Proxy

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]
DATABASE_URL_ENV = "CONTAINER_EDU_DATABASE_URL"
LESSONS = ("matrix", "conv")  # phase 1, then phase 2
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def _questions(key: str):
    """The lesson's questions and the address number of its "check" step (read from the app's own lessons)."""
    from app.lessons import LESSONS as ALL
    from app.lessons.parts.steps import lesson_steps

    lesson = next(module for module in ALL if module.KEY == key)
    step = next(number for number, s in enumerate(lesson_steps(lesson), start=1) if s.id == "check")
    return lesson.QUESTIONS, step


@dataclass
class Learner:
    index: int
    timeout: float
    context: object = None
    page: object = None
    code: str | None = None
    replica: str | None = None
    final_replica: str | None = None
    sent: int = 0
    errors: list[str] = field(default_factory=list)

    async def replica_cookie(self) -> str | None:
        cookies = await self.context.cookies()
        return next((c["value"] for c in cookies if c["name"] == REPLICA_COOKIE), None)

    async def open_lesson(self, url: str, key: str) -> None:
        _questions_, step = _questions(key)
        query = f"lesson={key}&step={step}" + (f"&learner={self.code}" if self.code else "")
        await self.page.goto(f"{url}/Lessons?{query}")
        await self.page.locator(f".st-key-quiz_{key}_0").wait_for()
        deadline = time.monotonic() + self.timeout
        while self.code is None and time.monotonic() < deadline:
            found = parse_qs(urlparse(self.page.url).query).get("learner")
            self.code = found[0] if found else None
            if self.code is None:
                await asyncio.sleep(0.2)
        if self.code is None:
            raise RuntimeError(f"learner {self.index}: the address never named a learner code")

    async def answer(self, key: str, index: int, option: str, feedback: str, attempts: int = 3) -> None:
        """Choose ``option`` in question ``index`` and press Check; sent once the page shows its feedback.

        A Check pressed while the choice's own rerun is still on its way checks the previous choice (or none): a
        learner would press it again, and so does this, a bounded number of times.
        """
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        for attempt in range(attempts):
            await self.page.locator(f".st-key-quiz_{key}_{index}").get_by_text(option, exact=True).click()
            await self.page.locator(IDLE).wait_for()
            await self.page.locator(f".st-key-quiz_{key}_{index}_button button").click()
            try:
                await self.page.get_by_text(feedback, exact=False).first.wait_for(
                    timeout=self.timeout * 1000 / attempts)
            except PlaywrightTimeout:
                if attempt + 1 == attempts:
                    raise
                continue
            self.sent += 1
            return

    async def answer_lesson(self, key: str, only: int | None = None) -> None:
        questions, _step = _questions(key)
        for index, question in enumerate(questions):
            if only is not None and index != only:
                continue
            wrong = next(option for option in question.options if option != question.right_option)
            for option in (wrong, question.right_option):
                await self.answer(key, index, option, question.feedback(option))


async def _wait_reconnected(learner: Learner) -> None:
    deadline = time.monotonic() + learner.timeout
    while time.monotonic() < deadline:
        state = await learner.page.evaluate(
            "() => document.querySelector('[data-testid=\"stApp\"]').getAttribute('data-test-connection-state')")
        if state == "CONNECTED" and await learner.replica_cookie() != learner.replica:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"learner {learner.index}: did not reconnect to another replica")


async def _guarded(learner: Learner, step) -> None:
    """Run ``step()`` (a coroutine function) unless the learner already failed; record a failure."""
    if learner.errors:
        return
    try:
        await step()
    except Exception as error:  # noqa: BLE001 - one learner's failure is a result, not a crash of the tool
        learner.errors.append(f"learner {learner.index}: {type(error).__name__}: {str(error)[:300]}")


async def drive(servers: list[AppServer], proxy: Proxy, learners: int, kill_one: bool,
                timeout: float) -> tuple[list[Learner], str | None]:
    from playwright.async_api import async_playwright

    people = [Learner(i, timeout) for i in range(learners)]
    killed = None
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for learner in people:  # one after the other, so that HAProxy's leastconn spreads them
                learner.context = await browser.new_context(viewport={"width": 1400, "height": 1000})
                learner.page = await learner.context.new_page()
                learner.page.set_default_timeout(timeout * 1000)
                await _guarded(learner, lambda: learner.open_lesson(proxy.url, LESSONS[0]))
                learner.replica = learner.final_replica = await learner.replica_cookie()
            # Each step binds its own learner (p=p): a bare lambda would see the generator's last p when gather runs
            # them, and every learner's clicks would land on the last learner's page.
            await asyncio.gather(*(_guarded(p, lambda p=p: p.answer_lesson(LESSONS[0])) for p in people))
            if kill_one:
                killed = next((p.replica for p in people if p.replica), servers[0].name)
                victim = next(server for server in servers if server.name == killed)
                victim.kill()
                moved = [p for p in people if p.replica == killed]
                await asyncio.gather(*(_guarded(p, lambda p=p: _wait_reconnected(p)) for p in moved))
                # On the same page, in the new session: answering again must land in the same learner's record.
                await asyncio.gather(*(_guarded(p, lambda p=p: p.answer_lesson(LESSONS[0], only=0)) for p in moved))
            for learner in people:
                await _guarded(learner, lambda: learner.open_lesson(proxy.url, LESSONS[1]))
            await asyncio.gather(*(_guarded(p, lambda p=p: p.answer_lesson(LESSONS[1])) for p in people))
            for learner in people:
                with contextlib.suppress(Exception):
                    learner.final_replica = await learner.replica_cookie()
        finally:
            for learner in people:
                with contextlib.suppress(Exception):
                    await learner.context.close()
            await browser.close()
    return people, killed


def stored_answers(url: str, codes: list[str]) -> dict[str, int]:
    import sqlalchemy as sa

    from container_edu.progress.database import open_database

    engine = open_database(url)
    try:
        with engine.connect() as connection:
            return {code: connection.execute(sa.text("SELECT count(*) FROM answers WHERE learner = :code"),
                                             {"code": code}).scalar() for code in codes}
    finally:
        engine.dispose()


@contextlib.contextmanager
def database(kind: str, url: str | None, work_dir: Path):
    """The database every replica writes to: its URL, set in the environment the replicas inherit."""
    if url is None and kind == "postgresql":
        from postgres import postgres_server

        with postgres_server() as started:
            yield started
        return
    if url is None:
        path = work_dir / "progress.sqlite3"
        for stale in work_dir.glob("progress.sqlite3*"):
            stale.unlink()
        url = f"sqlite:///{path}"
    yield url


def run(args, log) -> int:
    args.work_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with database(args.database, args.database_url, args.work_dir) as url:
        os.environ[DATABASE_URL_ENV] = url  # the replicas inherit it
        servers = [AppServer(f"app{i + 1}", args.work_dir / f"app{i + 1}.log") for i in range(args.replicas)]
        proxy = Proxy(servers, args.work_dir)
        people: list[Learner] = []
        killed = None
        try:
            for server in servers:
                server.start()
            for server in servers:
                log(f"{server.name} up after {server.wait_ready(args.startup_timeout):.1f} s")
            proxy.start(args.startup_timeout)
            log(f"haproxy at {proxy.url}; {args.learners} learners, database {args.database}")
            people, killed = asyncio.run(drive(servers, proxy, args.learners, args.kill_one, args.action_timeout))
        finally:
            proxy.stop()
            for server in servers:
                server.stop()
        codes = [p.code for p in people if p.code]
        stored = stored_answers(url, codes) if codes else {}
    sent = sum(p.sent for p in people)
    kept = sum(min(stored.get(p.code, 0), p.sent) for p in people if p.code)
    result = {
        "replicas": args.replicas, "learners": args.learners, "database": args.database,
        "answers_sent": sent, "answers_stored": sum(stored.values()), "lost": sent - kept,
        "errors": [e for p in people for e in p.errors],
        "killed_replica": killed,
        "moved_learners": sum(1 for p in people if killed and p.replica == killed),
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and not result["errors"] and sent else 1
