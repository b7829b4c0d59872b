"""A throw-away PostgreSQL server, started from the installed Debian binaries in a temporary folder.

For the tests (tests/postgres_support.py) and ``tools/classroom.py --database postgresql``. PostgreSQL refuses to
run as root, so as root the server runs as the ``postgres`` account the Debian package makes (or ``nobody``), in
a folder handed to it. Nothing here imports the app.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No server can be started here (the reason says why)."""


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(command: list[str], user: str | None) -> list[str]:
    return command if user is None else ["runuser", "-u", user, "--", *command]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A running server's URL (a fresh one, stopped and removed afterwards); :class:`PostgresUnavailable` if none."""
    bindir = _bindir()
    if bindir is None:
        raise PostgresUnavailable("PostgreSQL is not installed (apt-get install postgresql)")
    user = None
    if os.geteuid() == 0:
        user = next((name for name in ("postgres", "nobody") if _has_user(name)), None)
        if user is None or shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root with no account to run PostgreSQL as")
    folder = Path(tempfile.mkdtemp(prefix="ce-postgres-"))
    data, port = folder / "data", _free_port()
    if user is not None:
        shutil.chown(folder, user)
    try:
        subprocess.run(_as_server_user([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "ce",
                                        "--no-sync", "-E", "UTF8"], user),
                       check=True, capture_output=True, timeout=300)
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
                                        "-t", "300", "-o", f"-k {folder} -h 127.0.0.1 -p {port} -F", "start"], user),
                       check=True, capture_output=True, timeout=320)
        yield f"postgresql://ce@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                                       user), capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def serve() -> None:
    """Start a server, print its URL as the one line of output, keep it up until SIGTERM or SIGINT, then remove it.

    For shell scripts (.ci/run): the server outlives this call's first line, and the script's trap ends it.
    """
    import signal
    import sys
    import time

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    try:
        with postgres_server() as url:
            print(url, flush=True)
            while not stop:  # polled: a signal between the test and a pause() would be missed
                time.sleep(0.2)
    except PostgresUnavailable as reason:
        print(f"no PostgreSQL server: {reason}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", required=True,
                        help="start a server, print its URL, and keep it up until stopped (SIGTERM or SIGINT)")
    parser.parse_args()
    serve()
