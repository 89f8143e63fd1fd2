"""Backends that close kept-alive connections: the proxy's client answers, never a 502.

Two real socket servers on 127.0.0.1 close connections the way real services do: one
answers every error with ``500`` and closes the socket without ``Connection: close``, the
other closes connections waiting idle for their next request at random moments. 2,000
requests at concurrency 8 go through the real proxy to each (to the second, a quarter are
POSTs carrying an ``Idempotency-Key``); in shadow mode, the same races must not show up as
``error`` verdicts.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from shadow.runner import ShadowResult
from strangler.config import parse_config
from strangler.proxy import SERVER_SETTINGS, Proxy
from strangler.recorder import Recorder
from strangler.shadowing import attach_shadow
from tests.conftest import LiveServer, start_server

REQUESTS = 2_000
CONCURRENCY = 8
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
ERROR = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"


@dataclass
class FlakyBackend:
    """``closes``: ``after_errors`` (``/err...`` answers 500, then the socket is closed) or
    ``idle_at_random`` (a connection waiting for its next request may be closed any time)."""

    closes: str
    port: int = 0
    connections: int = 0
    requests: int = 0
    closed_by_us: int = 0
    idle: set[asyncio.StreamWriter] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.idle.discard(writer)
                self.requests += 1
                for line in head.lower().split(b"\r\n"):
                    if line.startswith(b"content-length:"):
                        await reader.readexactly(int(line.partition(b":")[2]))
                if self.closes == "after_errors" and head.startswith(b"GET /err"):
                    writer.write(ERROR)
                    await writer.drain()
                    self.closed_by_us += 1
                    return
                writer.write(OK)
                await writer.drain()
                self.idle.add(writer)  # served once, now waiting for the next request
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.idle.discard(writer)
            writer.close()

    async def close_idle_at_random(self) -> None:
        rand = random.Random(11)
        while True:
            await asyncio.sleep(rand.random() * 0.004)
            if self.idle:
                victim = rand.choice(sorted(self.idle, key=id))
                self.idle.discard(victim)
                self.closed_by_us += 1
                victim.close()


def run_backends(backends: list[FlakyBackend]) -> None:
    ready = threading.Event()

    async def main() -> None:
        for backend in backends:
            server = await asyncio.start_server(backend.handle, "127.0.0.1", 0)
            backend.port = server.sockets[0].getsockname()[1]
            if backend.closes == "idle_at_random":
                asyncio.get_running_loop().create_task(backend.close_idle_at_random())
        ready.set()
        await asyncio.Event().wait()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
    assert ready.wait(10)


@dataclass
class Setup:
    backends: dict[str, FlakyBackend]
    proxies: dict[str, LiveServer]
    shadowed: list[ShadowResult]
    shadow_drops: Counter[str]


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    backends = {kind: FlakyBackend(kind) for kind in ("after_errors", "idle_at_random")}
    run_backends(list(backends.values()))
    shadowed: list[ShadowResult] = []
    drops: Counter[str] = Counter()
    proxies: dict[str, LiveServer] = {}
    for kind, backend in backends.items():
        url = f"http://127.0.0.1:{backend.port}"
        routes = [
            {"route": "GET,POST /{x}", "mode": "new"},
            {"route": "GET /s/{x}", "mode": "shadow"},
        ]
        proxy = Proxy(parse_config({"legacy": url, "new": url, "routes": routes}))
        recorder = Recorder(
            None, on_record=shadowed.append, on_drop=lambda _r, why: drops.update([why])
        )
        attach_shadow(proxy, proxy.config, None, recorder=recorder)
        proxies[kind] = start_server(proxy, **SERVER_SETTINGS)
    yield Setup(backends, proxies, shadowed, drops)
    for live in proxies.values():
        live.stop()


def send_all(url: str, paths: list[str]) -> Counter[tuple[int, str]]:
    """Send ``paths`` (``POST /x``: a POST with an Idempotency-Key, else a GET) at
    concurrency 8; count (status, body) of the answers."""
    todo = list(reversed(paths))
    seen: Counter[tuple[int, str]] = Counter()

    async def worker(client: httpx.AsyncClient) -> None:
        while todo:
            path = todo.pop()
            if path.startswith("POST "):
                key = {"Idempotency-Key": path}
                resp = await client.post(path[5:], content=b"{}", headers=key)
            else:
                resp = await client.get(path)
            seen[resp.status_code, resp.text] += 1

    async def main() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))

    asyncio.run(main())
    return seen


@pytest.mark.parametrize("closes", ["after_errors", "idle_at_random"])
def test_no_502_when_a_backend_closes_kept_alive_connections(setup: Setup, closes: str) -> None:
    backend = setup.backends[closes]
    paths = [f"/err{i}" if i % 2 else f"/ok{i}" for i in range(REQUESTS)]
    if closes == "idle_at_random":  # a quarter are POSTs the client marked as repeatable
        paths = [f"POST /ok{i}" if i % 4 == 0 else f"/ok{i}" for i in range(REQUESTS)]
    before = backend.connections, backend.closed_by_us
    seen = send_all(setup.proxies[closes].url, paths)
    errors = REQUESTS // 2 if closes == "after_errors" else 0
    expected = Counter({(200, "ok"): REQUESTS - errors})
    if errors:
        expected[500, "oops"] = errors  # the backend's own errors pass through, no 502
    assert seen == expected
    # The races were there: connections were reused, and the backend closed many of them.
    assert backend.connections - before[0] < REQUESTS
    assert backend.closed_by_us - before[1] >= (errors or 50)


@pytest.mark.parametrize("closes", ["after_errors", "idle_at_random"])
def test_shadowing_a_backend_that_closes_connections_gives_no_error_verdicts(
    setup: Setup, closes: str
) -> None:
    n = REQUESTS // 2
    setup.shadowed.clear()
    setup.shadow_drops.clear()
    prefix = "/s/err" if closes == "after_errors" else "/s/ok"
    seen = send_all(setup.proxies[closes].url, [f"{prefix}{i}" for i in range(n)])
    assert sum(seen.values()) == n
    assert all(status != 502 for status, _ in seen)
    deadline = time.monotonic() + 60
    while len(setup.shadowed) + setup.shadow_drops.total() < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert setup.shadow_drops["error"] == 0
    assert len(setup.shadowed) >= n // 2  # most were compared, not dropped for capacity
    errors = [r.candidate.error for r in setup.shadowed if r.candidate and r.candidate.error]
    assert errors == []
    assert {r.verdict.outcome for r in setup.shadowed} <= {"match"}
