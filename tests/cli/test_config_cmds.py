"""``strangler check`` and ``strangler schema``: what a user sees for good and bad configs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., tuple[int, str, str]]


def test_check_accepts_a_good_config(config_file: Path, run: Run) -> None:
    code, out, err = run("check", "-c", str(config_file))
    assert (code, err) == (0, "")
    assert out.strip() == f"{config_file}: OK (3 routes: 1 canary, 2 legacy)"


@pytest.mark.parametrize(
    ("text", "key", "shown"),
    [
        (
            'routes:\n  - route: "GET /a"\n    mode: canary\n    percent: 150\n',
            "routes[0].percent",
            "got 150, expected less than or equal to 100",
        ),
        (
            'routes:\n  - route: "GET /a"\n    mode: sideways\n',
            "routes[0].mode",
            "got 'sideways', expected 'legacy', 'shadow', 'canary', 'new' or 'retired'",
        ),
        (
            'routes:\n  - route: "GET /a"\n    mode: canary\n',
            "routes[0]",
            "mode canary needs 'percent' (0 to 100)",
        ),
        (
            'routes:\n  - route: "FETCH /a"\n',
            "routes[0].route",
            "got 'FETCH /a', expected methods from GET",
        ),
        (
            'routes:\n  - route: "GET /a"\n    sticky: header\n',
            "routes[0].sticky",
            "'header:NAME', 'cookie:NAME', 'query:NAME' or 'client-ip'",
        ),
        ("proxy:\n  poll_interval: -1\n", "proxy.poll_interval", "got -1, expected greater than 0"),
        ("bogus: 1\n", "bogus", "got 1, expected no such key here"),
    ],
)
def test_check_names_file_key_value_and_expected(
    tmp_path: Path, run: Run, text: str, key: str, shown: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("legacy: http://127.0.0.1:8001\nnew: http://127.0.0.1:8002\n" + text)
    code, out, err = run("check", "-c", str(path))
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    first = err.strip().splitlines()[0]
    assert first.startswith(f"error: {path}: {key}: ")
    assert shown in err


def test_check_missing_file_and_bad_yaml(tmp_path: Path, run: Run) -> None:
    missing = tmp_path / "nowhere.yaml"
    code, _, err = run("check", "-c", str(missing))
    assert code == 2
    assert "expected an existing config file" in err
    assert str(missing) in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("legacy: [unclosed\n")
    code, _, err = run("check", "-c", str(broken))
    assert code == 2
    assert f"{broken}: line 2, column 1" in err
    assert "expected valid YAML" in err
    assert "Traceback" not in err


def test_check_reports_every_problem(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("legacy: ftp://x\nnew: http://127.0.0.1:8002\nproxy:\n  max_body: -5\n")
    code, _, err = run("check", "-c", str(path))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert "legacy.target: got 'ftp://x'" in lines[0]
    assert "proxy.max_body: got -5" in lines[1]


def test_schema_is_a_json_schema_of_routes_and_modes(run: Run, tmp_path: Path) -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"legacy", "new", "routes", "store"} <= set(schema["properties"])
    assert "source" not in schema["properties"]
    route = schema["$defs"]["RouteConfig"]
    assert route["properties"]["mode"]["enum"] == ["legacy", "shadow", "canary", "new", "retired"]
    assert "route" in route["required"]

    target = tmp_path / "schema.json"
    assert run("schema", "-o", str(target))[0] == 0
    assert json.loads(target.read_text()) == schema
