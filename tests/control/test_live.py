"""The live-state watcher inside one proxy (create_app served by a real uvicorn)."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from strangler import ConfigError
from strangler.app import CONFIG_ENV, app_from_env, create_app
from strangler.cli import main
from tests.conftest import LiveServer
from tests.control.conftest import (
    ROUTE,
    Backends,
    answered_by,
    serves,
    side_of,
    wait_for,
    write_config,
)


def _flip(config: Path, mode: str) -> None:
    assert main(["flip", "-c", str(config), ROUTE, "--to", mode, "--reason", "test"]) == 0


def test_a_flip_is_served_within_seconds_and_survives_a_restart(
    tmp_path: Path, backends: Backends, serve: Callable[..., LiveServer]
) -> None:
    config = write_config(tmp_path / "strangler.yaml", backends, "sqlite:///store.db")
    proxy = serve(create_app(config))
    wait_for(proxy.url, serves("legacy"))
    _flip(config, "new")
    # default poll interval 1 s; the deadline leaves room for a loaded machine
    lag = wait_for(proxy.url, answered_by("new"), deadline=15)
    wait_for(proxy.url, serves("new"))
    print(f"\nsqlite in-process: flip served after {lag:.3f} s")

    restarted = serve(create_app(config))  # a new process reads the live mode at startup
    with httpx.Client(timeout=10) as client:
        assert side_of(client, restarted.url) == "new"


def test_store_trouble_keeps_the_last_table_and_warns_once(
    tmp_path: Path,
    backends: Backends,
    serve: Callable[..., LiveServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="strangler.live")
    config = write_config(
        tmp_path / "strangler.yaml", backends, "sqlite:///store.db", poll_interval=0.05
    )
    _flip(config, "new")
    proxy = serve(create_app(config))
    wait_for(proxy.url, serves("new"))

    db = sqlite3.connect(tmp_path / "store.db")
    try:
        db.execute("ALTER TABLE state_version RENAME TO state_version_away")  # the store breaks
        deadline = time.monotonic() + 10
        while not any("unreachable" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "no warning about the broken store"
            time.sleep(0.05)
        # many polls later: still serving the last table, still one warning
        with httpx.Client(timeout=10) as client:
            for _ in range(40):
                assert side_of(client, proxy.url) == "new"
                time.sleep(0.02)
        warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(warnings) == 1
        assert warnings[0].levelno == logging.WARNING
        assert "serving route table v1" in warnings[0].getMessage()

        db.execute("ALTER TABLE state_version_away RENAME TO state_version")  # back
        db.commit()
    finally:
        db.close()
    _flip(config, "legacy")
    wait_for(proxy.url, serves("legacy"))
    assert any("reachable again" in r.getMessage() for r in caplog.records)


def test_app_from_env(
    tmp_path: Path,
    backends: Backends,
    serve: Callable[..., LiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(ConfigError, match="STRANGLER_CONFIG"):
        app_from_env()
    config = write_config(tmp_path / "strangler.yaml", backends, "sqlite:///store.db")
    monkeypatch.setenv(CONFIG_ENV, str(config))
    proxy = serve(app_from_env())
    wait_for(proxy.url, serves("legacy", run=3))
