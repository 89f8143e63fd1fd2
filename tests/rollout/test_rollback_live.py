"""Automatic rollback in a running proxy: kill new during a canary under concurrent traffic."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from strangler.app import create_app
from strangler.config import parse_config
from strangler.store import Flip, Store
from tests.conftest import LiveServer, free_port

ROUTE = "GET /items/{id}"


def _side(name: str) -> Starlette:
    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["id"], "side": name})

    return Starlette(routes=[Route("/items/{id}", item)])


def _wait_for(what: Callable[[], Flip | None], timeout: float) -> Flip | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found is not None:
            return found
        time.sleep(0.05)
    return None


@pytest.mark.slow
def test_killing_new_during_a_canary_rolls_back_with_no_failed_request(
    serve: Callable[..., LiveServer], tmp_path: Path
) -> None:
    legacy = serve(_side("legacy"))
    new = serve(_side("new"))
    admin_port = free_port()
    cfg = parse_config(
        {
            "legacy": legacy.url,
            "new": new.url,
            "store": f"sqlite:///{tmp_path / 'store.db'}",
            "proxy": {"poll_interval": 0.2},
            "admin": {"port": admin_port, "token": "t"},
            # identical sides: only the error rate should trip (latency noise must not)
            "rollback": {
                "window": "10s",
                "min_requests": 10,
                "interval": 0.2,
                "max_p99_ratio": 1000,
            },
            "routes": [{"route": ROUTE, "mode": "canary", "percent": 50}],
            "shadow": {"canary": False},  # the sides answer apart on purpose: errors only
        },
        source=str(tmp_path / "strangler.yaml"),
    )
    proxy = serve(create_app(cfg))
    store = Store(cfg.store)

    statuses: list[int] = []
    sides: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=proxy.url, timeout=30) as c:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    resp = c.get(f"/items/{n}-{i}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                statuses.append(resp.status_code)
                if resp.status_code == 200:
                    sides.append(resp.json()["side"])

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(6)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while sides.count("new") < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sides.count("new") >= 50, "the canary sent nothing to new"

        assert [f for f in store.history(ROUTE) if f.automatic] == [], "rolled back too early"
        killed_at = datetime.now(UTC)
        new.stop()
        killed = time.monotonic()
        flip = _wait_for(
            lambda: next((f for f in store.history(ROUTE) if f.automatic), None), timeout=5
        )
        took = time.monotonic() - killed
        assert flip is not None, "no automatic rollback recorded within 5 s"
        served_before = len(statuses)
        while len(statuses) < served_before + 100 and time.monotonic() < killed + 30:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    assert errors == []
    assert set(statuses) == {200}, "a client saw a failed GET"
    print(f"rollback recorded {took:.2f} s after new was killed; {len(statuses)} GETs, all 200")
    assert flip.at >= killed_at
    assert (flip.from_mode, flip.from_percent, flip.to_mode) == ("canary", Decimal(50), "shadow")
    assert flip.reason.startswith("automatic rollback from canary 50%: new's error rate ")
    assert flip.actor.startswith("strangler-rollback@")
    state = store.live_states()[ROUTE]
    assert (state.mode, state.held) == ("shadow", True)
    # one rollback, not one per check, and it shows in the metrics
    assert [f.automatic for f in store.history(ROUTE)] == [True]
    metrics = httpx.get(f"http://127.0.0.1:{admin_port}/metrics", timeout=30).text
    assert 'strangler_rollbacks_total{from_mode="canary",route="GET /items/{id}"} 1.0' in metrics
    store.close()
