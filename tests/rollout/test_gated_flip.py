"""The readiness gate inside ``flip_route`` and ``strangler flip``, on a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from strangler._errors import FlipRefused
from strangler.cli import main
from strangler.config import Config, parse_config
from strangler.control import engage_kill_switch, flip_route, open_store, release_kill_switch
from strangler.store import Store

ROUTE = "GET /orgs/{slug}"


def _config(store_url: str, **readiness: object) -> Config:
    return parse_config(
        {
            "legacy": "http://127.0.0.1:9",
            "new": "http://127.0.0.1:9",
            "store": store_url,
            "readiness": readiness,
            "routes": [{"route": ROUTE, "mode": "shadow"}, {"route": "GET /forms"}],
        }
    )


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = open_store(_config(sqlite_url))
    yield s
    s.close()


def test_route_without_evidence_is_refused_and_told_why_once(sqlite_url: str, store: Store) -> None:
    cfg = _config(sqlite_url)
    with pytest.raises(FlipRefused) as info:
        flip_route(cfg, store, ROUTE, "canary", Decimal(5), "first users")
    assert info.value.blockers == ("sample: 0 compared requests in the last 1h (needs >= 100)",)
    assert store.history(ROUTE) == []


def test_legacy_to_shadow_and_stepping_back_are_not_gated(sqlite_url: str, store: Store) -> None:
    cfg = _config(sqlite_url)
    flip_route(cfg, store, "GET /forms", "shadow", None, "compare first")
    flip_route(cfg, store, ROUTE, "legacy", None, "back")
    assert [f.to_mode for f in store.history()] == ["legacy", "shadow"]


def test_forced_flip_goes_through_and_the_audit_log_says_what_was_overridden(
    sqlite_url: str, store: Store
) -> None:
    cfg = _config(sqlite_url)
    flip = flip_route(cfg, store, ROUTE, "new", None, "deadline", actor="ann", force=True)
    assert flip.forced
    assert flip.reason.startswith("deadline [forced past: sample: 0 compared requests")
    assert store.live_states()[ROUTE].mode == "new"


def test_failed_load_test_blocks_and_a_later_pass_unblocks(sqlite_url: str, store: Store) -> None:
    cfg = _config(sqlite_url, min_compared=0)
    store.record_evidence("load", route=ROUTE, passed=False, summary={}, subject="load-3")
    with pytest.raises(FlipRefused) as info:
        flip_route(cfg, store, ROUTE, "canary", Decimal(10), "try")
    (blocker,) = info.value.blockers
    assert blocker.startswith("load test: failed at ")
    assert blocker.endswith("(load-3) (needs a passing result)")
    store.record_evidence("load", route=ROUTE, passed=True, summary={}, subject="load-4")
    assert flip_route(cfg, store, ROUTE, "canary", Decimal(10), "try again").to_mode == "canary"


def test_kill_switch_sends_everything_to_legacy_and_blocks_forward_flips(
    sqlite_url: str, store: Store
) -> None:
    cfg = _config(sqlite_url, min_compared=0)
    flip_route(cfg, store, "GET /forms", "canary", Decimal(20), "ramp")
    result = engage_kill_switch(cfg, store, reason="incident 42", actor="ops")
    assert {(f.route, f.from_mode, f.to_mode) for f in result.flips} == {
        (ROUTE, "shadow", "legacy"),
        ("GET /forms", "canary", "legacy"),
    }
    assert all(f.reason == "kill switch: incident 42" for f in result.flips)
    with pytest.raises(FlipRefused, match=r"kill switch on since .* by ops: incident 42"):
        flip_route(cfg, store, ROUTE, "new", None, "anyway", force=True)
    release_kill_switch(store, reason="fixed", actor="ops")
    assert flip_route(cfg, store, ROUTE, "shadow", None, "again").to_mode == "shadow"


def test_cli_flip_refusal_prints_measured_values_and_thresholds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "strangler.yaml"
    path.write_text(
        "legacy: http://127.0.0.1:9\nnew: http://127.0.0.1:9\nstore: sqlite:///s.db\n"
        "readiness: {min_compared: 50, min_parity: 0.995}\n"
        'routes:\n  - route: "GET /orgs/{slug}"\n    mode: shadow\n',
        encoding="utf-8",
    )
    code = main(["flip", "-c", str(path), ROUTE, "--to", "canary", "-p", "5", "-r", "go"])
    err = capsys.readouterr().err
    assert code == 1
    assert "refused" in err
    assert "sample: 0 compared requests in the last 1h (needs >= 50)" in err
    assert "parity:" not in err  # nothing compared is said once, by the sample
    assert "--force --reason" in err
