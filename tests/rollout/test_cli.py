"""``strangler ready``, ``strangler status`` and ``strangler kill-switch`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strangler.cli import main
from strangler.store import Store

CONFIG = """\
legacy: http://127.0.0.1:9
new: http://127.0.0.1:9
store: sqlite:///store.db
readiness: {min_compared: 0, require: [load]}
routes:
  - route: "GET /orgs/{slug}"
    mode: shadow
  - route: "GET /forms"
    mode: new
  - route: "POST /payments"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("STRANGLER_ACTOR", "tester")
    path = tmp_path / "strangler.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_ready_lists_verdicts_and_exits_1_for_a_route_that_is_not(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "ready", "-c", str(config), "--json")
    assert code == 0
    verdicts = {v["route"]: v for v in json.loads(out)}
    assert verdicts["GET /orgs/{slug}"]["blockers"] == [
        "load test: none recorded (needs a passing result)"
    ]
    code, out, _ = _run(capsys, "ready", "-c", str(config), "--route", "get /orgs/{slug}")
    assert code == 1
    assert "NO   load test: none recorded (needs a passing result)" in out

    store = Store(f"sqlite:///{config.parent / 'store.db'}")
    store.record_evidence("load", route="GET /orgs/{slug}", passed=True, summary={})
    store.close()
    code, out, _ = _run(capsys, "ready", "-c", str(config), "--route", "GET /orgs/{slug}")
    assert code == 0
    assert "ready" in out


def test_a_route_still_on_legacy_is_ready_for_shadow_whatever_its_later_blockers(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "ready", "-c", str(config), "--json")
    verdict = {v["route"]: v for v in json.loads(out)}["POST /payments"]
    assert (verdict["mode"], verdict["next_step"], verdict["ready_for_next"]) == (
        "legacy",
        "shadow",
        True,
    )
    # The later moves stay gated: the blockers are still there for canary and new.
    assert verdict["ready"] is False
    assert verdict["blockers"]
    code, out, _ = _run(capsys, "ready", "-c", str(config), "--route", "POST /payments")
    assert code == 0
    assert "ready for shadow" in out
    assert "the move to shadow is never gated" in out
    assert "not ready" not in out
    code, _, err = _run(
        capsys, "flip", "-c", str(config), "POST /payments", "--to", "shadow", "--reason", "start"
    )
    assert code == 0, err


def test_ready_for_an_unknown_route_is_a_usage_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "ready", "-c", str(config), "--route", "GET /nope")
    assert code == 2
    assert "no route 'GET /nope' in the config" in err


def test_status_counts_modes_and_names_what_blocks_each_route(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "status", "-c", str(config))
    assert code == 0
    assert "1/3 routes on new" in out
    assert "by mode: legacy 1, shadow 1, new 1" in out
    assert "traffic served by new: last hour no traffic" in out
    assert "not shadowed yet: flip it to shadow to start collecting evidence" in out
    code, out, _ = _run(capsys, "status", "-c", str(config), "--json")
    data = json.loads(out)
    assert (data["routes_done"], data["routes_total"]) == (1, 3)
    assert data["kill_switch"]["engaged"] is False


def test_kill_switch_on_and_off(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "kill-switch", "on", "-c", str(config))
    assert code == 2
    assert "a reason is required" in err
    code, out, _ = _run(capsys, "kill-switch", "on", "-c", str(config), "-r", "incident 9")
    assert code == 0
    assert "kill switch on since" in out
    assert "by tester: incident 9" in out
    assert "GET /orgs/{slug}: shadow -> legacy" in out
    assert "GET /forms: new -> legacy" in out
    code, _, err = _run(
        capsys, "flip", "-c", str(config), "GET /forms", "--to", "new", "-r", "x", "--force"
    )
    assert code == 1
    assert "kill switch on" in err
    code, out, _ = _run(capsys, "status", "-c", str(config))
    assert "kill switch on since" in out
    code, out, _ = _run(capsys, "kill-switch", "off", "-c", str(config), "-r", "fixed")
    assert code == 0
    assert "routes stay where they are" in out
    code, _, _ = _run(capsys, "flip", "-c", str(config), "GET /forms", "--to", "shadow", "-r", "y")
    assert code == 0
