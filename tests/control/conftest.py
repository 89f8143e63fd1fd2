"""Real legacy/new test servers, config files, client traffic and `strangler serve` processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from strangler._types import Receive, Scope, Send
from tests.conftest import LiveServer, free_port

ROUTE = "GET /orgs/{slug}"
PATH = "/orgs/acme"


def side_app(name: str) -> Any:
    """A backend answering ``{"side": name}`` after a short pause (so requests are in flight
    while a flip lands)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await asyncio.sleep(0.005)
        body = json.dumps({"side": name, "path": scope["path"]}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@dataclass(frozen=True)
class Backends:
    legacy: str
    new: str


@pytest.fixture
def backends(serve: Callable[..., LiveServer]) -> Backends:
    """Real legacy and new servers on 127.0.0.1."""
    return Backends(serve(side_app("legacy")).url, serve(side_app("new")).url)


def write_config(
    path: Path, backends: Backends, store: str, *, poll_interval: float | None = None
) -> Path:
    lines = [
        f"legacy: {backends.legacy}",
        f"new: {backends.new}",
        f"store: {json.dumps(store)}",
        "readiness:",
        "  min_compared: 0",  # flips are the subject here, not the gates
        "admin:",
        "  port: 0",  # several proxies on one machine: any free admin port
        "rollback:",
        "  enabled: false",  # only the test flips the route
        "routes:",
        f'  - route: "{ROUTE}"',
        "    mode: legacy",
    ]
    if poll_interval is not None:
        lines += ["proxy:", f"  poll_interval: {poll_interval}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def side_of(client: httpx.Client, url: str) -> str:
    response = client.get(url + PATH)
    response.raise_for_status()
    return str(response.json()["side"])


def wait_for(
    url: str, done: Callable[[list[str]], bool], *, deadline: float = 8.0, every: float = 0.02
) -> float:
    """Poll ``url`` until ``done(sides seen so far)``; the seconds it took."""
    start = time.monotonic()
    seen: list[str] = []
    with httpx.Client(timeout=10) as client:
        while True:
            seen.append(side_of(client, url))
            if done(seen):
                return time.monotonic() - start
            if time.monotonic() - start > deadline:
                raise AssertionError(f"{url}: not done after {deadline} s; last sides {seen[-10:]}")
            time.sleep(every)


def serves(side: str, run: int = 20) -> Callable[[list[str]], bool]:
    """Done when the last ``run`` answers all came from ``side``."""
    return lambda seen: len(seen) >= run and set(seen[-run:]) == {side}


def answered_by(side: str) -> Callable[[list[str]], bool]:
    """Done at the first answer from ``side``."""
    return lambda seen: seen[-1] == side


@dataclass
class Traffic:
    """Client threads sending requests through proxies until stopped; every failure kept."""

    urls: list[str]
    per_url: int = 2
    ok: int = 0
    sides: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Traffic:
        for url in self.urls:
            for i in range(self.per_url):
                t = threading.Thread(target=self._run, args=(url, i), daemon=True)
                t.start()
                self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _run(self, url: str, i: int) -> None:
        n = 0
        with httpx.Client(timeout=15) as client:
            while not self._stop.is_set():
                n += 1
                try:
                    r = client.get(url + PATH, headers={"x-user-id": f"u{i}-{n}"})
                    side = r.json()["side"] if r.status_code == 200 else None
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    with self._lock:
                        self.failures.append(f"{url}: {exc!r}")
                    continue
                with self._lock:
                    if side in ("legacy", "new"):
                        self.ok += 1
                        self.sides[side] = self.sides.get(side, 0) + 1
                    else:
                        self.failures.append(f"{url}: {r.status_code} {r.text[:200]}")


@dataclass
class ProxyProcess:
    """One `strangler serve` process on a real port."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_proxy(tmp_path: Path) -> Iterator[Callable[..., ProxyProcess]]:
    """Factory: ``start_proxy(config_path, *extra_args)`` runs `strangler serve` in a child
    process; every one is stopped (SIGTERM, then SIGKILL) after the test."""
    started: list[ProxyProcess] = []

    def _start(config: Path, *extra: str) -> ProxyProcess:
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "strangler", "serve", "-c", str(config)),
                    *("--port", str(port), "--log-level", "info", *extra),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "COLUMNS": "200"},
            )
        proc = ProxyProcess(f"http://127.0.0.1:{port}", process, log)
        started.append(proc)
        return proc

    yield _start
    for proc in started:
        if proc.process.poll() is None:
            proc.process.terminate()
            try:
                proc.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait(timeout=5)


def wait_ready(proxy: ProxyProcess, deadline: float = 30.0) -> None:
    """Until the proxy answers (any answer through it counts)."""
    end = time.monotonic() + deadline
    with httpx.Client(timeout=5) as client:
        while True:
            if proxy.process.poll() is not None:
                raise AssertionError(f"strangler serve exited early:\n{proxy.output()}")
            try:
                client.get(proxy.url + "/ready-check")
                return
            except httpx.TransportError:
                pass
            if time.monotonic() > end:
                raise AssertionError(f"strangler serve not ready:\n{proxy.output()}")
            time.sleep(0.1)
