"""A route in canary gathers comparison evidence by default: ``strangler ready`` counts it.

Real legacy and new servers, the real proxy with a SQLite store, a 50 % canary with no
shadow settings at all; then ``strangler ready`` as an operator runs it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from strangler.app import create_app
from strangler.cli import main
from strangler.config import parse_config
from tests.conftest import LiveServer
from tests.load.apps import Backend

ROUTE = "GET /items/{id}"


def _ready(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, object]:
    capsys.readouterr()
    main(["ready", "-c", str(config), "--route", ROUTE, "--json"])
    (verdict,) = json.loads(capsys.readouterr().out)
    assert isinstance(verdict, dict)
    return verdict


def test_a_canary_gathers_evidence_for_its_next_flip_by_default(
    serve: Callable[..., LiveServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    legacy_app, new_app = Backend(), Backend()  # identical answers
    legacy, new = serve(legacy_app), serve(new_app)
    raw = {
        "legacy": legacy.url,
        "new": new.url,
        "store": f"sqlite:///{tmp_path / 'store.db'}",
        "readiness": {"min_compared": 40, "max_p99_ratio": 1000},
        "routes": [{"route": ROUTE, "mode": "canary", "percent": 50}],
    }
    config = tmp_path / "strangler.yaml"
    config.write_text(json.dumps(raw), encoding="utf-8")  # JSON is YAML
    before = _ready(capsys, config)
    # nothing compared yet: said once, by the sample condition
    assert [b.split(":")[0] for b in before["blockers"]] == ["sample"]

    proxy = serve(create_app(parse_config(raw, source=str(config))))
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        for i in range(60):
            assert client.get(f"/items/{i}").status_code == 200
    deadline = time.monotonic() + 20
    verdict = _ready(capsys, config)
    while verdict["stats"]["compared"] < 60 and time.monotonic() < deadline:  # type: ignore[index]
        time.sleep(0.2)
        verdict = _ready(capsys, config)
    assert verdict["stats"]["compared"] == 60  # type: ignore[index]
    assert verdict["ready"], verdict["blockers"]
    # every request reached both sides: the one that answered and the other, compared
    # (legacy also answers a share twice: its noise calls)
    paths = {f"/items/{i}" for i in range(60)}
    assert set(legacy_app.hits) == set(new_app.hits) == paths
