"""`strangler serve --workers 2` behaves as one proxy: one sum of the metrics, one rollback
monitor, a new leader when the leader dies. Real `strangler serve` processes, real backends."""

from __future__ import annotations

import functools
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from strangler.store import Store
from strangler.store.traffic import served_totals
from tests.conftest import LiveServer, free_port
from tests.control.conftest import PATH, ROUTE, ProxyProcess, side_app

DEADLINE = 120.0  # seconds: a loaded 2-core machine starts two workers slowly


def _config(
    path: Path, legacy: str, new: str, store: str, admin_port: int, *, rollback: bool
) -> Path:
    lines = [
        f"legacy: {legacy}",
        f"new: {new}",
        f"store: {json.dumps(store)}",
        "proxy:",
        "  poll_interval: 0.2",
        "admin:",
        f"  port: {admin_port}",
        "rollback:",
        f"  enabled: {'true' if rollback else 'false'}",
        # identical sides: only the error rate may trip (latency noise must not)
        "  window: 10s",
        "  min_requests: 10",
        "  interval: 0.2",
        "  max_p99_ratio: 1000",
        "routes:",
        f'  - route: "{ROUTE}"',
        "    mode: canary",
        "    percent: 50",
        "    shadow: {canary: false}  # this test is about the error rate",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _until(what: str, check: Callable[[], Any], proxy: ProxyProcess) -> Any:
    """Poll ``check`` until it returns something truthy (connection errors are retried)."""
    end = time.monotonic() + DEADLINE
    last: Any = None
    while True:
        if proxy.process.poll() is not None:
            raise AssertionError(
                f"strangler serve exited while waiting for {what}:\n{proxy.output()}"
            )
        try:
            last = check()
        except httpx.TransportError as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > end:
            raise AssertionError(
                f"no {what} after {DEADLINE} s (last: {last!r}):\n{proxy.output()}"
            )
        time.sleep(0.1)


def _workers(admin: str) -> dict[str, Any]:
    response = httpx.get(f"{admin}/api/workers", timeout=30)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def _answers(admin: str) -> int:
    """``strangler_requests_total`` for the route, summed over its labels, at ``/metrics``."""
    response = httpx.get(f"{admin}/metrics", timeout=30)
    response.raise_for_status()
    return round(
        sum(
            s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples
            if s.name == "strangler_requests_total" and s.labels.get("route") == ROUTE
        )
    )


def _send(url: str, n: int, threads: int = 4) -> int:
    """``n`` GETs from ``threads`` clients, a new connection each (so the kernel spreads
    them over the workers); every one must answer 200."""

    def client(i: int) -> int:
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=30, limits=limits) as c:
            for j in range(n // threads):
                r = c.get(url + PATH, headers={"x-user-id": f"u{i}-{j}"})
                assert r.status_code == 200, r.text
        return n // threads

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(client, range(threads)))


def _both_running(proxy: ProxyProcess, admin: str) -> None:
    _until(
        "two running workers",
        lambda: sum(w["alive"] for w in _workers(admin)["workers"]) == 2,
        proxy,
    )


def _send_until_both_served(proxy: ProxyProcess, admin: str) -> int:
    """Send requests until each worker answered some; how many were sent."""
    sent = 0
    end = time.monotonic() + DEADLINE
    while True:
        sent += _send(proxy.url, 40)
        busy = _until(
            "every answer in the workers' counts",
            functools.partial(_served_by, admin, sent),
            proxy,
        )
        if len([n for n in busy.values() if n > 0]) >= 2:
            return sent
        assert time.monotonic() < end, f"one worker served all {sent} requests: {busy}"


def _served_by(admin: str, total: int) -> dict[int, int] | None:
    """Answers per worker once the workers' counts add up to ``total`` (their files lag
    behind by up to a second)."""
    by_pid = {w["pid"]: w["requests"] for w in _workers(admin)["workers"]}
    return by_pid if sum(by_pid.values()) == total else None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.mark.slow
def test_two_workers_count_every_answer_once(
    serve: Callable[..., LiveServer],
    start_proxy: Callable[..., ProxyProcess],
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    legacy, new = serve(side_app("legacy")), serve(side_app("new"))
    admin_port = free_port()
    admin = f"http://127.0.0.1:{admin_port}"
    config = _config(
        tmp_path / "s.yaml", legacy.url, new.url, store_url, admin_port, rollback=False
    )
    since = datetime.now(UTC) - timedelta(minutes=1)
    runs = tmp_path / "tmp"
    runs.mkdir()
    monkeypatch.setenv("TMPDIR", str(runs))  # the child's tempfile makes its run dir here
    proxy = start_proxy(config, "--workers", "2")
    _both_running(proxy, admin)
    (run_dir,) = runs.iterdir()

    k = _send_until_both_served(proxy, admin)

    # the leader's /metrics is the whole proxy: exactly K answers, none twice
    assert _until("all K answers at /metrics", lambda: _answers(admin) >= k, proxy)
    assert _answers(admin) == k
    workers = _workers(admin)
    assert len(workers["workers"]) == 2
    assert all(w["requests"] > 0 for w in workers["workers"]), workers
    assert sorted(p.name for p in run_dir.glob("*.json")) == sorted(
        f"{w['pid']}.json" for w in workers["workers"]
    )

    # each worker records its own answers in the store: the totals add up to K, not 2K
    store = Store(store_url)
    try:

        def recorded() -> int:
            totals = served_totals(store, since, datetime.now(UTC) + timedelta(minutes=1))
            return totals.legacy + totals.new

        _until("K answers recorded in the store", lambda: recorded() >= k, proxy)
        assert recorded() == k
    finally:
        store.close()

    proxy.process.send_signal(signal.SIGTERM)
    proxy.process.wait(timeout=60)
    assert not run_dir.exists(), "the run directory outlived the server"


@pytest.mark.slow
def test_a_new_leader_takes_over_when_the_leader_is_killed(
    serve: Callable[..., LiveServer],
    start_proxy: Callable[..., ProxyProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    legacy, new = serve(side_app("legacy")), serve(side_app("new"))
    admin_port = free_port()
    admin = f"http://127.0.0.1:{admin_port}"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    config = _config(
        tmp_path / "s.yaml", legacy.url, new.url, store_url, admin_port, rollback=False
    )
    proxy = start_proxy(config, "--workers", "2")
    _both_running(proxy, admin)
    k = _send_until_both_served(proxy, admin)
    assert _until("K answers at /metrics", lambda: _answers(admin) >= k, proxy)
    before = _answers(admin)
    leader = _workers(admin)["leader"]

    os.kill(leader, signal.SIGKILL)
    killed = time.monotonic()

    took_over = _until(
        "another worker leading",
        lambda: (w := _workers(admin))["leader"] != leader and w,
        proxy,
    )
    print(f"another worker led {time.monotonic() - killed:.2f} s after the leader was killed")
    assert took_over["leader"] != leader
    after = _answers(admin)
    assert after >= before, "the new leader's counts went backwards"
    assert after == k  # nothing was sent meanwhile: the dead leader's answers all kept
    (gone,) = [w for w in took_over["workers"] if w["pid"] == leader]
    assert gone["requests"] > 0, "the killed leader's answers are not listed"
    _until(
        "the killed leader listed as gone",
        lambda: not next(w for w in _workers(admin)["workers"] if w["pid"] == leader)["alive"],
        proxy,
    )

    # uvicorn restarts the killed worker; the proxy keeps answering and counting
    _both_running(proxy, admin)
    more = _send(proxy.url, 20)
    assert _until("the new answers at /metrics", lambda: _answers(admin) >= k + more, proxy)
    assert _answers(admin) == k + more


@pytest.mark.slow
def test_one_rollback_for_two_workers_when_new_dies(
    serve: Callable[..., LiveServer],
    start_proxy: Callable[..., ProxyProcess],
    tmp_path: Path,
) -> None:
    legacy, new = serve(side_app("legacy")), serve(side_app("new"))
    admin_port = free_port()
    admin = f"http://127.0.0.1:{admin_port}"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    config = _config(tmp_path / "s.yaml", legacy.url, new.url, store_url, admin_port, rollback=True)
    proxy = start_proxy(config, "--workers", "2")
    _both_running(proxy, admin)
    _send_until_both_served(proxy, admin)  # both workers serve the canary

    statuses: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def client(n: int) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=30, limits=limits) as c:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    statuses.append(
                        c.get(proxy.url + PATH, headers={"x-user-id": f"{n}-{i}"}).status_code
                    )
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))

    store = Store(store_url)
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(4)]
    try:
        for t in threads:
            t.start()
        _until("traffic through the proxy", lambda: len(statuses) >= 40, proxy)
        new.stop()
        stopped = time.monotonic()
        flip = _until(
            "an automatic rollback in the store",
            lambda: next((f for f in store.history(ROUTE) if f.automatic), None),
            proxy,
        )
        took = time.monotonic() - stopped
        served = len(statuses)
        _until("100 more answers", lambda: len(statuses) >= served + 100, proxy)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)

    print(f"rollback recorded {took:.2f} s after new stopped; {len(statuses)} GETs")
    try:
        assert errors == []
        assert set(statuses) == {200}, "a client saw a failed GET"
        assert (flip.from_mode, flip.to_mode) == ("canary", "shadow")
        assert flip.reason.startswith("automatic rollback from canary 50%: new's error rate ")
        # one monitor judged the whole proxy: one rollback, not one per worker
        assert [f.automatic for f in store.history(ROUTE)] == [True]
        assert proxy.output().count("rolled back to shadow") == 1
        metrics = httpx.get(f"{admin}/metrics", timeout=30).text
        assert (
            'strangler_rollbacks_total{from_mode="canary",route="GET /orgs/{slug}"} 1.0' in metrics
        )
    finally:
        store.close()
