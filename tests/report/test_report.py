"""The shadow report: built from a real store filled by the real recorder; every format; CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml

from shadow import (
    CapturedRequest,
    CapturedResponse,
    Redactor,
    Rules,
    classify,
    compare,
    compile_rules,
)
from shadow.exchange import Exchange
from shadow.noise import NoiseThresholds, RouteNoise
from shadow.runner import ShadowResult
from strangler.cli import main
from strangler.config import parse_config
from strangler.recorder import Recorder
from strangler.report import build_report, parse_since, render
from strangler.store import Store

ROUTE = "GET /orders/{id}"
OTHER = "GET /users/{id}"
JSON = (("content-type", "application/json"),)


def answer(doc: object, ms: float) -> CapturedResponse:
    return CapturedResponse(200, JSON, orjson.dumps(doc), ms)


def result(
    route: str,
    legacy: dict[str, object],
    new: dict[str, object],
    *,
    again: dict[str, object] | None = None,
    at: datetime | None = None,
    stats: RouteNoise,
    path: str = "/orders/1",
    ms: tuple[float, float] = (10.0, 30.0),
) -> ShadowResult:
    rules = compile_rules(Rules())
    primary, candidate = answer(legacy, ms[0]), answer(new, ms[1])
    second = compare(primary, answer(again, ms[0]), rules) if again is not None else None
    verdict = classify(compare(primary, candidate, rules), second, stats)
    request = CapturedRequest("GET", path, "", (("accept", "application/json"),), b"", route)
    exchange = Exchange(request, "legacy", primary, candidate)
    return ShadowResult(
        route, at or datetime.now(UTC), exchange, "new", verdict, second, Redactor()
    )


@pytest.fixture
def filled(tmp_path: Path, sqlite_url: str) -> tuple[Path, Store]:
    """A config file and a store holding a known mix of shadow results."""
    cfg_path = tmp_path / "strangler.yaml"
    cfg_path.write_text(
        yaml.safe_dump(
            {
                "legacy": "http://127.0.0.1:1",
                "new": "http://127.0.0.1:2",
                "store": sqlite_url,
                "routes": [
                    {"route": ROUTE, "mode": "shadow"},
                    {"route": OTHER, "mode": "shadow"},
                ],
            }
        )
    )
    store = Store(sqlite_url)
    store.ensure_schema()
    recorder = Recorder(store, match_sample=0.0)
    recorder.start()
    stats = RouteNoise(thresholds=NoiseThresholds(min_samples=5))
    for i in range(20):  # matches, with a noisy timestamp learned from the second answer
        base = {"id": 1, "status": "paid"}
        recorder.record(
            result(
                ROUTE,
                {**base, "at": i},
                {**base, "at": i + 1},
                again={**base, "at": i + 2},
                stats=stats,
            )
        )
    for i in range(5):  # a wrong total (legacy agreed with itself)
        recorder.record(
            result(
                ROUTE,
                {"id": 1, "total": 10, "at": i},
                {"id": 1, "total": 12, "at": i + 9},
                again={"id": 1, "total": 10, "at": i + 3},
                stats=stats,
                path=f"/orders/{i}",
            )
        )
    recorder.record(result(ROUTE, {"id": 1}, {"id": 1, "debug": True}, stats=stats))
    recorder.record(result(ROUTE, {"id": 1, "name": "a"}, {"id": 1}, stats=stats))
    old = datetime.now(UTC) - timedelta(hours=3)
    recorder.record(result(OTHER, {"x": 1}, {"x": 2}, at=old, stats=RouteNoise()))
    recorder.drop(ROUTE, "timeout")
    assert recorder.flush()
    recorder.stop()
    return cfg_path, store


def test_report_counts_fields_examples_latency_and_suggestions(filled: tuple[Path, Store]) -> None:
    cfg_path, store = filled
    from strangler.config import load_config

    cfg = load_config(cfg_path)
    report = build_report(
        store, cfg, since=timedelta(hours=1), thresholds=NoiseThresholds(min_samples=5)
    )
    assert [r.route for r in report.routes] == [ROUTE]  # OTHER is older than the window
    r = report.routes[0]
    assert (r.requests, r.compared, r.dropped) == (28, 27, {"timeout": 1})
    assert (r.matched, r.noise) == (0, 20)
    assert r.mismatches == {"status": 0, "schema": 1, "value": 5, "added": 1}
    assert r.match_rate == pytest.approx(20 / 27)
    fields = {f.field: f for f in r.fields}
    assert fields["$.total"].mismatches == 5
    assert fields["$.total"].severity == "value"
    assert fields["$.at"].status == "noise"
    assert fields["$.at"].mismatches == 0
    # worst severity first (a missing field is schema), then the most mismatches
    assert [f.field for f in r.fields][:3] == ["$.name", "$.total", "$.debug"]
    example = fields["$.total"].example
    assert example is not None
    assert example.primary_status == 200
    assert json.loads(example.candidate_body)["total"] == 12
    assert any("total" in line for line in example.explanation)
    legacy_p50, new_p50 = r.latency["legacy"].p50, r.latency["new"].p50
    assert legacy_p50 is not None
    assert new_p50 is not None
    assert legacy_p50 < new_p50  # 10 ms against 30 ms
    assert [s.rule for s in r.suggestions] == ['ignore: ["$.at"]']
    assert r.rules == {"ignore": ["$.at"]}
    older = build_report(store, cfg, since=timedelta(hours=4), route=OTHER)
    assert [x.route for x in older.routes] == [OTHER]


@pytest.mark.parametrize("fmt", ["table", "md", "json", "html"])
def test_every_format_through_the_cli(filled: tuple[Path, Store], tmp_path: Path, fmt: str) -> None:
    cfg_path, _ = filled
    out = tmp_path / f"report.{fmt}"
    code = main(["report", "-c", str(cfg_path), "--since", "1h", "--format", fmt, "-o", str(out)])
    assert code == 0
    text = out.read_text()
    assert ROUTE in text
    assert "$.total" in text
    if fmt == "json":
        data = json.loads(text)
        assert data["routes"][0]["mismatches"]["value"] == 5
        assert data["routes"][0]["match_rate"] == pytest.approx(20 / 27)
    if fmt == "html":
        assert text.startswith("<!doctype html>")
        assert "<script" not in text  # self-contained: no script, no external files
        assert "<link" not in text
        # the example is the dashboard's side-by-side view, the differing line marked
        assert '<div class="diff">' in text
        assert "<mark>" in text
        assert "&#34;total&#34;: 12,</mark>\n" in text
    if fmt in ("md", "html", "table"):
        assert "$.at" in text  # the suggested rule


def test_json_is_the_same_flag_as_on_every_other_data_command(
    filled: tuple[Path, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path, _ = filled
    assert main(["report", "-c", str(cfg_path), "--since", "1h", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["routes"][0]["route"] == ROUTE
    assert main(["report", "-c", str(cfg_path), "--json", "--format", "md"]) == 2
    assert "one of --json or --format" in capsys.readouterr().err


def test_route_filter_and_stdout(
    filled: tuple[Path, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path, _ = filled
    assert (
        main(
            [
                "report",
                "-c",
                str(cfg_path),
                "--route",
                "get /users/{id}",
                "--since",
                "4h",
                "-f",
                "md",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert OTHER in out
    assert ROUTE not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "a duration like 90, '90s', '2m', '1h30m' or '2d'"),
        (["--format", "pdf"], "one of table, md, json, html"),
        (["--route", "GET /nope"], "no route 'GET /nope'"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    filled: tuple[Path, Store], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    cfg_path, _ = filled
    assert main(["report", "-c", str(cfg_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_html_escapes_everything(tmp_path: Path, sqlite_url: str) -> None:
    store = Store(sqlite_url)
    store.ensure_schema()
    recorder = Recorder(store)
    recorder.start()
    evil = "<script>alert(1)</script>"
    recorder.record(result(ROUTE, {"name": evil}, {"name": "ok", evil: 1}, stats=RouteNoise()))
    assert recorder.flush()
    recorder.stop()
    cfg = parse_config({"legacy": "http://127.0.0.1:1", "new": "http://127.0.0.1:2"})
    html = render(build_report(store, cfg), "html")
    assert evil not in html
    assert "&lt;script&gt;" in html
    store.close()


def test_an_empty_window_says_so(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    store.ensure_schema()
    report = build_report(store, None)
    assert "no shadow traffic" in render(report, "table").lower()
    assert "No shadow traffic" in render(report, "md")
    assert parse_since("2d") == timedelta(days=2)
    assert parse_since("90") == timedelta(seconds=90)  # one grammar: plain seconds too
    store.close()
