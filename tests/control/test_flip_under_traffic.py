"""THE proof: `strangler serve` processes follow CLI flips under concurrent traffic, with
zero failed requests, each serving the new mode within a second or two."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from strangler.cli import main
from tests.control.conftest import (
    ROUTE,
    Backends,
    ProxyProcess,
    Traffic,
    answered_by,
    serves,
    wait_for,
    wait_ready,
    write_config,
)

StartProxy = Callable[..., ProxyProcess]


def _flip(config: Path, mode: str, percent: str | None = None) -> None:
    args = ["flip", "-c", str(config), ROUTE, "--to", mode, "--reason", f"test: {mode}"]
    assert main(args + (["--percent", percent] if percent else [])) == 0


def _walk_the_lifecycle(config: Path, proxies: list[ProxyProcess]) -> dict[str, list[float]]:
    """legacy -> new -> canary 50 -> legacy; the seconds each proxy took to serve each step."""
    lags: dict[str, list[float]] = {}
    for p in proxies:
        wait_for(p.url, serves("legacy"))
    _flip(config, "new")
    lags["new"] = [wait_for(p.url, answered_by("new")) for p in proxies]
    _flip(config, "canary", "50")
    lags["canary 50"] = [wait_for(p.url, answered_by("legacy")) for p in proxies]
    for p in proxies:  # the canary really splits: both sides answer
        wait_for(p.url, lambda seen: {"legacy", "new"} <= set(seen))
    _flip(config, "legacy")
    lags["legacy"] = [wait_for(p.url, serves("legacy")) for p in proxies]
    return lags


def _stop_cleanly(proxies: list[ProxyProcess]) -> None:
    for p in proxies:
        p.process.send_signal(signal.SIGTERM)
    for p in proxies:
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert p.process.wait(timeout=30) in (0, -signal.SIGTERM), p.output()
        assert "stopped following the store" in p.output()


def _check(traffic: Traffic, proxies: list[ProxyProcess]) -> None:
    assert traffic.failures == []
    assert traffic.ok > 50
    assert set(traffic.sides) == {"legacy", "new"}
    for p in proxies:  # each process logged each applied flip once
        out = p.output()
        assert "GET /orgs/{slug} legacy -> new" in out
        assert "GET /orgs/{slug} new -> canary 50%" in out
        assert "GET /orgs/{slug} canary 50% -> legacy" in out


@pytest.mark.slow
@pytest.mark.postgres
def test_two_processes_sharing_postgres_follow_flips_under_traffic(
    tmp_path: Path, backends: Backends, postgres_url: str, start_proxy: StartProxy
) -> None:
    config = write_config(tmp_path / "strangler.yaml", backends, postgres_url)
    # Both start at once on a fresh store: one creates the schema, the other accepts it.
    proxies = [start_proxy(config), start_proxy(config)]
    for p in proxies:
        wait_ready(p)
    with Traffic([p.url for p in proxies]) as traffic:
        lags = _walk_the_lifecycle(config, proxies)
    print(f"\npostgres, 2 processes, flip -> served (s): {lags}, requests ok {traffic.ok}")
    _check(traffic, proxies)
    _stop_cleanly(proxies)


@pytest.mark.slow
def test_one_process_on_sqlite_follows_flips_under_traffic(
    tmp_path: Path, backends: Backends, start_proxy: StartProxy
) -> None:
    config = write_config(tmp_path / "strangler.yaml", backends, "sqlite:///store.db")
    proxy = start_proxy(config)
    wait_ready(proxy)
    assert "strangler proxy on http://127.0.0.1:" in proxy.output()
    # served with the proxy's uvicorn settings: the upstream's Server/Date only, once each
    answer = httpx.get(proxy.url + "/orgs/acme", timeout=10)
    assert len(answer.headers.get_list("server")) == 1
    assert len(answer.headers.get_list("date")) == 1
    with Traffic([proxy.url], per_url=3) as traffic:
        lags = _walk_the_lifecycle(config, [proxy])
    print(f"\nsqlite, 1 process, flip -> served (s): {lags}, requests ok {traffic.ok}")
    _check(traffic, [proxy])
    _stop_cleanly([proxy])


@pytest.mark.slow
def test_workers_share_the_store(
    tmp_path: Path, backends: Backends, start_proxy: StartProxy
) -> None:
    """`--workers 2`: each worker builds its app from STRANGLER_CONFIG and follows flips."""
    config = write_config(tmp_path / "strangler.yaml", backends, "sqlite:///store.db")
    proxy = start_proxy(config, "--workers", "2")
    wait_ready(proxy)
    deadline = time.monotonic() + 30
    while proxy.output().count("route table v0 loaded") < 2:  # both workers up
        assert time.monotonic() < deadline, proxy.output()
        time.sleep(0.1)
    with Traffic([proxy.url]) as traffic:
        _flip(config, "new")
        wait_for(proxy.url, serves("new", run=40))
    assert traffic.failures == []
    assert proxy.output().count("GET /orgs/{slug} legacy -> new") == 2
    _stop_cleanly([proxy])
