"""Shared fixtures: real HTTP servers on 127.0.0.1, real SQLite files, real PostgreSQL/MariaDB."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import create_engine, text

from strangler._types import ASGIApp

# pytester drives the parity plugin in a child pytest (tests/parity); pytest only accepts
# pytest_plugins in the top-level conftest.
pytest_plugins = ["pytester"]


@dataclass
class LiveServer:
    """An ASGI app served by a real uvicorn on 127.0.0.1 in a background thread."""

    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(app: ASGIApp | Any, *, port: int = 0, **config: Any) -> LiveServer:
    """Serve ``app`` on 127.0.0.1 until ``.stop()``; returns once it accepts connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    bound = int(sock.getsockname()[1])
    cfg = uvicorn.Config(app, **{"log_level": "warning", "lifespan": "auto", **config})
    server = uvicorn.Server(cfg)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    return LiveServer(f"http://127.0.0.1:{bound}", bound, server, thread)


@pytest.fixture
def serve() -> Iterator[Callable[..., LiveServer]]:
    """Factory fixture: ``serve(app)`` starts a real server, stopped after the test."""
    started: list[LiveServer] = []

    def _serve(app: Any, **kwargs: Any) -> LiveServer:
        live = start_server(app, **kwargs)
        started.append(live)
        return live

    yield _serve
    for live in reversed(started):
        live.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A real SQLite file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'store.db'}"


class ScratchDatabases:
    """Fresh PostgreSQL schemas / MariaDB databases on the servers named by the test URLs,
    all dropped by :meth:`drop_all` (each test or module gets its own, so tests never see
    each other's tables)."""

    def __init__(self) -> None:
        self._made: list[tuple[str, str]] = []  # (base URL, DROP statement)

    def postgres(self, base: str) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._run(base, f'CREATE SCHEMA "{name}"')
        self._made.append((base, f'DROP SCHEMA "{name}" CASCADE'))
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}options=-csearch_path%3D{name}"

    def mariadb(self, base: str) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._run(base, f"CREATE DATABASE `{name}`")
        self._made.append((base, f"DROP DATABASE `{name}`"))
        return base.rsplit("/", 1)[0] + f"/{name}"

    def drop_all(self) -> None:
        while self._made:
            base, statement = self._made.pop()
            self._run(base, statement)

    @staticmethod
    def _run(base: str, statement: str) -> None:
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema on the real PostgreSQL named by STRANGLER_TEST_POSTGRES_URL."""
    base = os.environ.get("STRANGLER_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("STRANGLER_TEST_POSTGRES_URL is not set (no PostgreSQL to test against)")
    scratch = ScratchDatabases()
    try:
        yield scratch.postgres(base)
    finally:
        scratch.drop_all()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh database on the real MariaDB named by STRANGLER_TEST_MARIADB_URL."""
    base = os.environ.get("STRANGLER_TEST_MARIADB_URL")
    if not base:
        pytest.skip("STRANGLER_TEST_MARIADB_URL is not set (no MariaDB to test against)")
    scratch = ScratchDatabases()
    try:
        yield scratch.mariadb(base)
    finally:
        scratch.drop_all()
