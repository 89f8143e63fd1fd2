"""Fixtures for the load tests: a config file pointing at two real backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import LiveServer
from tests.load.apps import Backend

# Short, bounded runs: 2 s per target, a few users, small minimum sample.
FAST_LOAD = {"users": 4, "spawn_rate": 100, "duration": "2s", "min_samples": 50}


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def _write(legacy: str, new: str, routes: list[dict[str, Any]], **load: Any) -> Path:
        path = tmp_path / "strangler.yaml"
        data = {
            "legacy": legacy,
            "new": new,
            "store": "sqlite:///store.db",
            "load": {**FAST_LOAD, **load},
            "routes": routes,
        }
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def backends(serve: Callable[..., LiveServer]) -> Callable[[Backend, Backend], tuple[str, str]]:
    def _start(legacy: Backend, new: Backend) -> tuple[str, str]:
        return serve(legacy).url, serve(new).url

    return _start
