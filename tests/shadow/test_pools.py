"""Shadow calls have connection pools of their own: a slow candidate never makes a client
wait for a connection to the same backend.

Real servers on 127.0.0.1: new holds its answers to the shadowed route, and its pool is
two connections; four shadow calls are in flight, yet a client request to a route served
by new is answered at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from shadow.runner import ShadowRunner
from strangler.config import parse_config
from strangler.proxy import SERVER_SETTINGS, Proxy
from strangler.shadowing import attach_shadow
from strangler.store import Store
from tests.conftest import LiveServer
from tests.shadow.apps import Backend, Call, json_answer


def _answer(call: Call) -> tuple[int, list[tuple[str, str]], bytes]:
    return json_answer({"path": call.path})


def _settled(runner: ShadowRunner, submitted: int) -> None:
    deadline = time.monotonic() + 30
    while runner.submitted < submitted or runner.in_flight:
        assert time.monotonic() < deadline, "shadow calls did not finish"
        time.sleep(0.01)


def test_slow_shadow_calls_never_take_a_clients_connection(
    serve: Callable[..., LiveServer], sqlite_url: str
) -> None:
    legacy, new = Backend("legacy"), Backend("new")
    shadowed = [f"/orders/{i}" for i in range(4)]
    for path in [*shadowed, "/forms/1"]:
        legacy.handlers[path] = new.handlers[path] = _answer
    new.hold.update(shadowed)  # the candidate answers only once released
    cfg = parse_config(
        {
            "legacy": serve(legacy).url,
            "new": {"target": serve(new).url, "max_connections": 2},
            "store": sqlite_url,
            "routes": [
                {"route": "GET /orders/{id}", "mode": "shadow"},
                {"route": "GET /forms/{id}", "mode": "new"},
            ],
            "shadow": {"noise_sample": 0, "timeout": 15},
        }
    )
    store = Store(cfg.store)
    store.ensure_schema()
    proxy = Proxy(cfg)
    runner = attach_shadow(proxy, cfg, store)
    srv = serve(proxy, **SERVER_SETTINGS)
    releaser = threading.Timer(4.0, new.release.set)  # never longer than the test
    releaser.start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            for path in shadowed:
                assert client.get(path).json() == {"path": path}  # legacy answers at once
            deadline = time.monotonic() + 10
            while sum(new.count("GET", p) for p in shadowed) < 2:  # both pool slots held
                assert time.monotonic() < deadline, "the shadow calls never reached new"
                time.sleep(0.01)
            started = time.monotonic()
            answer = client.get("/forms/1")
            waited = time.monotonic() - started
        assert answer.status_code == 200
        assert answer.json() == {"path": "/forms/1"}
        assert waited < 2.0, f"the client waited {waited:.2f} s behind the shadow calls"
        assert runner.in_flight == 4, "the shadow calls were still held meanwhile"
        new.release.set()
        _settled(runner, 4)
        assert all(new.count("GET", p) == 1 for p in shadowed)  # each compared once
    finally:
        releaser.cancel()
        new.release.set()
        store.close()
