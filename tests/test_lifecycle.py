"""One process lifecycle: declared once, started in order, stopped in reverse."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from strangler.app import create_app
from strangler.config import parse_config
from strangler.lifecycle import Component, Lifecycle


def _recording(events: list[str], name: str, *, fail: bool = False) -> Component:
    async def start() -> None:
        if fail:
            raise RuntimeError(f"{name} cannot start")
        events.append(f"start {name}")

    async def stop() -> None:
        events.append(f"stop {name}")

    return Component(name, start, stop)


def test_components_stop_in_the_reverse_order_they_started() -> None:
    events: list[str] = []
    life = Lifecycle([_recording(events, n) for n in ("store", "runner", "admin")])
    asyncio.run(life.start())
    asyncio.run(life.stop())
    assert events == [
        "start store",
        "start runner",
        "start admin",
        "stop admin",
        "stop runner",
        "stop store",
    ]


def test_a_component_that_cannot_start_stops_those_already_started() -> None:
    events: list[str] = []
    life = Lifecycle(
        [
            _recording(events, "store"),
            _recording(events, "runner"),
            _recording(events, "admin", fail=True),
        ]
    )
    with pytest.raises(RuntimeError, match="admin cannot start"):
        asyncio.run(life.start())
    assert events == ["start store", "start runner", "stop runner", "stop store"]
    asyncio.run(life.stop())  # nothing left to stop
    assert len(events) == 4


def test_create_app_declares_the_whole_order_in_one_place(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "legacy": "http://127.0.0.1:9",
            "new": "http://127.0.0.1:10",
            "store": f"sqlite:///{tmp_path / 'store.db'}",
            "admin": {"port": 0},
        }
    )
    proxy = create_app(cfg)
    assert proxy.lifecycle is not None
    assert proxy.lifecycle.names == (
        "store",
        "live state",
        "shadow recorder",
        "shadow pools",
        "shadow runner",
        "traffic recorder",
        "live discovery",
        "rollback monitor",
        "admin side",
    )
    assert proxy.on_startup == [proxy.lifecycle.start]
    assert proxy.on_shutdown == [proxy.lifecycle.stop]
