"""The report ranks what matters and its suggestions are config that works when pasted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from shadow import CapturedRequest, CapturedResponse, Redactor, Rules, classify, compare
from shadow.exchange import Exchange
from shadow.noise import NoiseThresholds, RouteNoise
from shadow.rules import compile_rules, route_rules
from shadow.runner import ShadowResult
from strangler.cli import main
from strangler.config import load_config
from strangler.recorder import Recorder
from strangler.report import build_report, render
from strangler.store import Store

ROUTE = "GET /orders/{id}"
CALM = "GET /calm"


def _answer(doc: dict[str, Any], request_id: str) -> CapturedResponse:
    headers = (("content-type", "application/json"), ("x-trace-token", request_id))
    return CapturedResponse(200, headers, orjson.dumps(doc), 5.0)


def _doc(i: int, *, total: int = 10, shuffle: bool = False) -> dict[str, Any]:
    tags = ["a", "b", "c"]
    return {
        "id": str(uuid.uuid4()),  # a new id on every answer: a mask, not an ignore
        "at": i,  # a timestamp-like counter: ignore
        "tags": tags[::-1] if shuffle else tags,  # order only: unordered
        "total": total,
    }


def _pairs(n: int) -> list[tuple[CapturedResponse, CapturedResponse, CapturedResponse]]:
    """(legacy, legacy again, new) for ``n`` requests; new gets the total wrong on 1 in 5."""
    return [
        (
            _answer(_doc(i), f"r{i}a"),
            _answer(_doc(i + 1, shuffle=i % 2 == 0), f"r{i}b"),
            _answer(_doc(i + 2, total=12 if i % 5 == 0 else 10, shuffle=i % 2 == 1), f"r{i}c"),
        )
        for i in range(n)
    ]


def _fill(store: Store, pairs: list[tuple[CapturedResponse, ...]]) -> None:
    rules = compile_rules(Rules())
    stats = RouteNoise(thresholds=NoiseThresholds(min_samples=5))
    recorder = Recorder(store, match_sample=0.0)
    recorder.start()
    for legacy, again, new in pairs:
        second = compare(legacy, again, rules)
        verdict = classify(compare(legacy, new, rules), second, stats)
        request = CapturedRequest("GET", "/orders/1", "", (), b"", ROUTE)
        exchange = Exchange(request, "legacy", legacy, new, again)
        at = datetime.now(UTC)
        recorder.record(ShadowResult(ROUTE, at, exchange, "new", verdict, second, Redactor()))
    calm = _answer({"x": 1}, "c")
    for status in (200, 500):  # one status difference on another route
        other = CapturedResponse(status, calm.headers, calm.body, 5.0)
        request = CapturedRequest("GET", "/calm", "", (), b"", CALM)
        verdict = classify(compare(calm, other, rules), None, RouteNoise())
        exchange = Exchange(request, "legacy", calm, other)
        at = datetime.now(UTC)
        recorder.record(ShadowResult(CALM, at, exchange, "new", verdict, None, Redactor()))
    assert recorder.flush()
    recorder.stop()


@pytest.fixture
def noisy(tmp_path: Path, sqlite_url: str) -> tuple[Path, Store, list[tuple[Any, ...]]]:
    cfg_path = tmp_path / "strangler.yaml"
    data = {
        "legacy": "http://127.0.0.1:1",
        "new": "http://127.0.0.1:2",
        "store": sqlite_url,
        "routes": [{"route": ROUTE, "mode": "shadow"}, {"route": CALM, "mode": "shadow"}],
    }
    cfg_path.write_text(yaml.safe_dump(data))
    store = Store(sqlite_url)
    store.ensure_schema()
    pairs = _pairs(40)
    _fill(store, pairs)
    return cfg_path, store, pairs


def test_suggestions_are_one_rules_block_that_check_accepts_and_that_silences_them(
    noisy: tuple[Path, Store, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path, store, pairs = noisy
    cfg = load_config(cfg_path)
    thresholds = NoiseThresholds(min_samples=5)
    report = build_report(store, cfg, since=timedelta(hours=1), thresholds=thresholds)
    route = next(r for r in report.routes if r.route == ROUTE)
    block = route.rules
    assert block == {
        "masks": [{"path": "$.id", "shape": "uuid"}],
        "ignore": ["$.at"],
        "unordered": ["$.tags"],
        "headers": {"ignore": ["x-trace-token"]},
    }
    suggested = {s.field for s in route.suggestions}
    assert "$.total" not in suggested  # a real difference is never suggested away

    # paste the printed block under the route's entry, as a user would
    printed = render(report, "md")
    yaml_text = printed.split("```yaml\n", 1)[1].split("```", 1)[0]
    data = yaml.safe_load(cfg_path.read_text())
    data["routes"][0].update(yaml.safe_load(yaml_text))
    cfg_path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["check", "-c", str(cfg_path)]) == 0, capsys.readouterr().err

    pasted = load_config(cfg_path)
    rules = route_rules(pasted.rules, pasted.route(ROUTE).rules)
    left: set[str] = set()
    for legacy, _, new in pairs:
        left |= {d.field or d.path for d in compare(legacy, new, rules).differences}
    assert left == {"$.total"}  # exactly the suggested fields are gone, the real one stays


def test_a_status_difference_is_never_hidden_and_its_route_comes_first(
    noisy: tuple[Path, Store, list[tuple[Any, ...]]],
) -> None:
    cfg_path, store, _ = noisy
    cfg = load_config(cfg_path)
    report = build_report(store, cfg, since=timedelta(hours=1), top=1)
    assert [r.route for r in report.routes] == [CALM, ROUTE]  # worst open finding first
    calm = report.routes[0]
    assert [f.field for f in calm.fields] == ["status"]
    assert calm.rules == {}  # never a rule that silences a status
    full = build_report(store, cfg, since=timedelta(hours=1), top=None)
    assert len(next(r for r in full.routes if r.route == ROUTE).fields) >= 4


def test_report_top_and_all_options(
    noisy: tuple[Path, Store, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path, _, _ = noisy
    assert main(["report", "-c", str(cfg_path), "--json", "--top", "1"]) == 0
    one = orjson.loads(capsys.readouterr().out)
    assert main(["report", "-c", str(cfg_path), "--json", "--all"]) == 0
    every = orjson.loads(capsys.readouterr().out)
    shown = {r["route"]: len(r["fields"]) for r in one["routes"]}
    assert shown[ROUTE] == 1
    assert {r["route"]: len(r["fields"]) for r in every["routes"]}[ROUTE] > 1
    assert next(r for r in one["routes"] if r["route"] == ROUTE)["hidden"] >= 1
