"""A real PostgreSQL server for the tests (tools/postgres.py), or a skip that says why there is none.

``CONTAINER_EDU_TEST_DATABASE_URL`` points the tests at a server that is already running instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from postgres import PostgresUnavailable, postgres_server as _server  # noqa: E402

TEST_URL_ENV = "CONTAINER_EDU_TEST_DATABASE_URL"


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    if os.environ.get(TEST_URL_ENV):
        yield os.environ[TEST_URL_ENV]
        return
    try:
        server = _server()
        url = server.__enter__()
    except PostgresUnavailable as reason:
        pytest.skip(f"{reason}, and {TEST_URL_ENV} names no server")
    try:
        yield url
    finally:
        server.__exit__(None, None, None)
