"""Targets and time bounds of a load run (no process started)."""

from __future__ import annotations

import pytest

from load.run import RunSpec, Target, resolve_target
from load.scenario import LoadRequest, RouteLoad, Scenario
from strangler._errors import ConfigError
from strangler.config import parse_config

SCENARIO = Scenario((RouteLoad("GET /a", 1.0, (LoadRequest("GET", "/a"),)),))
CONFIG = parse_config({"legacy": "http://127.0.0.1:8001/", "new": "examples.new:app"})


def test_every_run_has_a_hard_deadline_that_grows_with_its_work() -> None:
    one = RunSpec(SCENARIO, (Target("new", "http://x"),), duration=60, request_timeout=30)
    two = RunSpec(SCENARIO, (Target("legacy", "http://x"), Target("new", "http://y")), duration=60)
    assert 90 < one.hard_deadline < 200
    assert two.hard_deadline > one.hard_deadline + 60
    master = RunSpec(SCENARIO, one.targets, duration=60, role="master", worker_wait=60)
    # a master also waits for its workers and for their reports after each block
    assert master.hard_deadline > one.hard_deadline + 60
    assert one.to_json()["hard_deadline"] == one.hard_deadline


def test_targets_are_the_configured_backends() -> None:
    assert resolve_target(CONFIG, "legacy") == Target("legacy", "http://127.0.0.1:8001")
    proxy = resolve_target(CONFIG, "proxy", proxy_url="http://127.0.0.1:9000/")
    assert proxy == Target("proxy", "http://127.0.0.1:9000")


def test_an_in_process_backend_is_refused_with_what_to_do() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_target(CONFIG, "new")
    assert caught.value.key == "new"
    assert "uvicorn examples.new:app" in caught.value.expected


def test_a_proxy_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="--proxy-url: got 'localhost:8000'"):
        resolve_target(CONFIG, "proxy", proxy_url="localhost:8000")
