"""``strangler flip|routes|history`` on a real SQLite store, as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., tuple[int, str, str]]
ROUTE = "GET /orgs/{slug}"


def test_flip_records_and_routes_shows_it(config_file: Path, run: Run) -> None:
    code, out, err = run(
        "flip", "-c", str(config_file), ROUTE, "--to", "canary", "--percent", "5",
        "--reason", "first 5% of users",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "flipped GET /orgs/{slug}: legacy -> canary 5%" in out
    assert "by tester" in out
    assert "first 5% of users" in out
    assert (config_file.parent / "store.db").exists()  # schema created on first flip

    code, out, _ = run("routes", "-c", str(config_file), "--json")
    assert code == 0
    data = json.loads(out)
    by_route = {r["route"]: r for r in data["routes"]}
    flipped = by_route[ROUTE]
    assert (flipped["mode"], flipped["percent"]) == ("canary", 5.0)
    assert flipped["differs_from_config"] is True
    assert flipped["note"] == "live differs from config: config says legacy"
    assert flipped["last_flip"]["actor"] == "tester"
    assert flipped["last_flip"]["reason"] == "first 5% of users"
    forms = by_route["GET,HEAD /orgs/{slug}/forms"]
    assert (forms["mode"], forms["percent"], forms["sticky"]) == (
        "canary",
        12.5,
        "header:x-user-id",
    )
    assert forms["differs_from_config"] is False
    assert forms["last_flip"] is None
    assert data["catch_all"] == {"mode": "legacy"}
    assert data["version"] == 1


def test_routes_table_for_people(config_file: Path, run: Run) -> None:
    code, out, _ = run("routes", "-c", str(config_file))
    assert code == 0
    assert "state version 0" in out
    assert "canary 12.5%" in out
    assert "* /{path:path} (catch-all)" in out
    run("flip", "-c", str(config_file), "POST /payments", "--to", "new", "-r", "rewritten")
    _, out, _ = run("routes", "-c", str(config_file))
    line = next(li for li in out.splitlines() if "POST /payments" in li)
    assert "new" in line
    assert "live differs from config: config says legacy" in line
    assert "by tester: rewritten" in line


def test_route_that_left_the_config_keeps_its_history(config_file: Path, run: Run) -> None:
    run("flip", "-c", str(config_file), "POST /payments", "--to", "new", "-r", "done")
    text = config_file.read_text().replace('  - route: "POST /payments"\n    mode: legacy\n', "")
    config_file.write_text(text)
    code, out, _ = run("routes", "-c", str(config_file), "--json")
    gone = {r["route"]: r for r in json.loads(out)["routes"]}["POST /payments"]
    assert gone["in_config"] is False
    assert gone["note"] == "not in config (falls to catch-all), history kept"
    code, out, _ = run("history", "-c", str(config_file), "--route", "POST /payments", "--json")
    assert code == 0
    assert [f["to_mode"] for f in json.loads(out)] == ["new"]


def test_history_newest_first_with_flags(config_file: Path, run: Run) -> None:
    c = str(config_file)
    assert run("flip", "-c", c, ROUTE, "--to", "shadow", "-r", "compare first")[0] == 0
    assert run("flip", "-c", c, ROUTE, "--to", "canary", "-p", "50", "-r", "half")[0] == 0
    assert (
        run("flip", "-c", c, ROUTE, "--to", "new", "-r", "all", "--force", "--actor", "ann")[0] == 0
    )
    assert run("flip", "-c", c, "POST /payments", "--to", "new", "-r", "other")[0] == 0

    code, out, _ = run("history", "-c", c, "--route", "get /orgs/{slug}", "--json")
    assert code == 0
    log = json.loads(out)
    assert [(f["from_mode"], f["to_mode"], f["to_percent"]) for f in log] == [
        ("canary", "new", None),
        ("shadow", "canary", 50.0),
        ("legacy", "shadow", None),
    ]
    assert (log[0]["actor"], log[0]["forced"], log[0]["automatic"]) == ("ann", True, False)
    assert log[1]["forced"] is False

    _, out, _ = run("history", "-c", c, "--limit", "2")
    lines = [li for li in out.splitlines() if "│" in li and ("tester" in li or "ann" in li)]
    assert len(lines) == 2
    assert "POST /payments" in lines[0]
    assert "forced" in lines[1]


def test_history_empty_store(config_file: Path, run: Run) -> None:
    code, out, _ = run("history", "-c", str(config_file))
    assert (code, out.strip()) == (0, "no flips recorded")
    code, out, _ = run("routes", "-c", str(config_file), "--json")
    assert code == 0
    assert {r["mode"] for r in json.loads(out)["routes"]} == {"legacy", "canary"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["GET /nope", "--to", "new", "-r", "x"],
            "no route 'GET /nope' in the config; known routes: GET /orgs/{slug}, "
            "GET,HEAD /orgs/{slug}/forms, POST /payments",
        ),
        ([ROUTE, "--to", "canary", "-r", "x"], "mode canary needs --percent"),
        ([ROUTE, "--to", "new"], "a reason is required (--reason '...')"),
        ([ROUTE, "--to", "new", "-r", "  "], "a reason is required"),
        ([ROUTE, "--to", "new", "-p", "3", "-r", "x"], "--percent applies to mode canary only"),
        ([ROUTE, "--to", "canary", "-p", "101", "-r", "x"], "must be from 0 to 100"),
        ([ROUTE, "--to", "canary", "-p", "2.345", "-r", "x"], "steps of 0.01"),
        ([ROUTE, "--to", "canary", "-p", "lots", "-r", "x"], "is not a number"),
        ([ROUTE, "--to", "sideways", "-r", "x"], "unknown mode 'sideways'; use one of legacy"),
        ([ROUTE, "--to", "legacy", "-r", "x"], "already in mode legacy; nothing to change"),
        (["not a route", "--to", "new", "-r", "x"], "no route 'not a route' in the config"),
    ],
)
def test_flip_errors(config_file: Path, run: Run, args: list[str], message: str) -> None:
    code, out, err = run("flip", "-c", str(config_file), *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert out == ""
    code, out, _ = run("history", "-c", str(config_file), "--json")
    assert json.loads(out) == []  # nothing recorded


def test_flip_to_the_current_canary_percent_is_refused(config_file: Path, run: Run) -> None:
    c = str(config_file)
    forms = "GET,HEAD /orgs/{slug}/forms"
    code, _, err = run("flip", "-c", c, forms, "--to", "canary", "-p", "12.50", "-r", "x")
    assert code == 2
    assert "already in mode canary 12.5%" in err
    assert run("flip", "-c", c, forms, "--to", "canary", "-p", "20", "-r", "more")[0] == 0
    _, out, _ = run("history", "-c", c, "--json")
    assert [(f["from_percent"], f["to_percent"]) for f in json.loads(out)] == [(12.5, 20.0)]


def test_flip_json_output(config_file: Path, run: Run) -> None:
    code, out, _ = run(
        "flip", "-c", str(config_file), ROUTE, "--to", "retired", "-r", "gone", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert (data["route"], data["from_mode"], data["to_mode"], data["reason"]) == (
        ROUTE,
        "legacy",
        "retired",
        "gone",
    )


def test_flip_with_a_broken_config_is_one_line(tmp_path: Path, run: Run) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("legacy: http://127.0.0.1:1\nnew: nowhere\n")
    code, _, err = run("flip", "-c", str(bad), ROUTE, "--to", "new", "-r", "x")
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {bad}: new.target: got 'nowhere', expected an http(s):// URL or an in-process "
        "app as 'module:attribute'"
    ]


def test_flip_without_to_is_a_usage_error(config_file: Path, run: Run) -> None:
    code, _, err = run("flip", "-c", str(config_file), ROUTE, "--reason", "x")
    assert code == 2
    assert "Missing option '--to'" in err
    assert "Traceback" not in err
