"""``strangler discover``: the same traffic, written as each kind of log a team has, gives
the routes a person would write, with the right shares; the entries pass ``check``."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections import Counter
from pathlib import Path

import pytest

from strangler.cli import main
from strangler.discovery import TemplateTree, discover

# What a person would write for this API (parameter names aside: compared by shape).
EXPECTED = {
    "GET /orgs/{}": 0.30,
    "GET /orgs/export": 0.10,
    "GET /orgs/{}/forms/{}": 0.25,
    "POST /orgs/{}/donations": 0.10,
    "GET /payments/{}": 0.15,
    "GET /health": 0.10,
}


def _traffic(n: int = 4000, seed: int = 5) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    slugs = [f"{rng.choice(['hope', 'care', 'aid'])}-{rng.randrange(10**6)}" for _ in range(150)]
    out = []
    for _ in range(n):
        r = rng.random()
        slug = rng.choice(slugs)
        if r < 0.30:
            out.append(("GET", f"/orgs/{slug}?tab=about"))
        elif r < 0.40:
            out.append(("GET", "/orgs/export"))
        elif r < 0.65:
            out.append(("GET", f"/orgs/{slug}/forms/{rng.randrange(1, 10**5)}"))
        elif r < 0.75:
            out.append(("POST", f"/orgs/{slug}/donations"))
        elif r < 0.90:
            out.append(("GET", f"/payments/{uuid.UUID(int=rng.getrandbits(128))}"))
        else:
            out.append(("GET", "/health"))
    return out


def _write(folder: Path, kind: str, traffic: list[tuple[str, str]]) -> Path:
    lines = []
    if kind == "combined":  # nginx's default, with referer and user agent
        for m, p in traffic:
            lines.append(
                f'10.0.0.1 - - [05/Dec/2026:10:00:00 +0000] "{m} {p} HTTP/1.1" 200 512 "-" "curl/8"'
            )
        lines.insert(7, "this line is not a request")
    elif kind == "common":  # Apache's common format
        lines = [
            f'10.0.0.1 - ann [05/Dec/2026:10:00:00 +0000] "{m} {p} HTTP/1.0" 200 12'
            for m, p in traffic
        ]
    elif kind == "w3c":
        lines = [
            "#Software: Microsoft Internet Information Services 10.0",
            "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port sc-status",
        ]
        for m, p in traffic:
            stem, _, query = p.partition("?")
            lines.append(f"2026-12-05 10:00:00 10.0.0.2 {m} {stem} {query or '-'} 443 200")
    elif kind == "jsonl":
        lines = [json.dumps({"method": m, "uri": p, "status": 200}) for m, p in traffic]
        lines.insert(3, "{not json")
    elif kind == "har":
        entries = [
            {"request": {"method": m, "url": f"https://pay.example{p}", "headers": []}}
            for m, p in traffic
        ]
        path = folder / "traffic.har"
        path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
        return path
    path = folder / f"{kind}.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def _shapes(found: list[tuple[str, float]]) -> dict[str, float]:
    return {re.sub(r"\{[^}]*\}", "{}", route): share for route, share in found}


@pytest.mark.parametrize("kind", ["combined", "common", "w3c", "jsonl", "har"])
def test_each_log_format_gives_the_routes_a_person_would_write(tmp_path: Path, kind: str) -> None:
    traffic = _traffic()
    found = discover([_write(tmp_path, kind, traffic)])
    shapes = _shapes([(r.route, r.share) for r in found.routes])
    assert set(shapes) == set(EXPECTED)
    for route, share in EXPECTED.items():
        assert shapes[route] == pytest.approx(share, abs=0.03), route
    counted = Counter(m for m, _ in traffic)
    assert found.total == sum(counted.values())
    stats = next(iter(found.files.values()))
    assert stats.unreadable == (1 if kind in ("combined", "jsonl") else 0)
    # no raw identifier, and every parameter named once per route
    for r in found.routes:
        assert not re.search(r"/\d+|[0-9a-f]{8}-|hope-|care-|aid-", r.path), r.path
        names = re.findall(r"\{([^}]*)\}", r.path)
        assert len(names) == len(set(names)), r.path


def test_openapi_names_the_same_routes_and_the_entries_pass_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "donations", "version": "1"},
        "paths": {
            "/orgs/{slug}": {"get": {}},
            "/orgs/export": {"get": {}},
            "/orgs/{slug}/forms/{id}": {"get": {}, "parameters": []},
            "/orgs/{slug}/donations": {"post": {}},
            "/payments/{payment_id}": {"get": {}},
            "/health": {"get": {}},
        },
    }
    doc = tmp_path / "openapi.json"
    doc.write_text(json.dumps(spec))
    found = discover([doc])
    assert set(_shapes([(r.route, r.share) for r in found.routes])) == set(EXPECTED)

    log = _write(tmp_path, "combined", _traffic())
    assert main(["discover", str(log)]) == 0
    entries = capsys.readouterr().out
    config = tmp_path / "strangler.yaml"
    config.write_text("legacy: http://127.0.0.1:9\nnew: http://127.0.0.1:9\n" + entries)
    assert main(["check", "-c", str(config)]) == 0, capsys.readouterr().err
    assert "6 routes" in capsys.readouterr().out


def test_a_config_marks_what_is_declared_and_undeclared_lists_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "strangler.yaml"
    config.write_text(
        "legacy: http://127.0.0.1:9\nnew: http://127.0.0.1:9\n"
        'routes:\n  - route: "GET /orgs/{slug}"\n  - route: "GET /health"\n'
    )
    log = _write(tmp_path, "combined", _traffic())
    assert main(["discover", str(log), "-c", str(config), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    declared = {r["route"]: r["declared_as"] for r in data["routes"]}
    assert declared["GET /health"] == "GET /health"
    assert declared["GET /payments/{payment_id}"] is None
    (org,) = [k for k in declared if re.fullmatch(r"GET /orgs/\{[a-z_]+\}", k)]
    assert declared[org] == "GET /orgs/{slug}"
    assert main(["discover", str(log), "-c", str(config), "--undeclared"]) == 0
    out = capsys.readouterr().out
    assert '"GET /health"' not in out
    assert "/payments/" in out


def test_a_flood_of_random_paths_keeps_memory_bounded() -> None:
    rng = random.Random(1)
    tree = TemplateTree(max_nodes=2_000)
    letters = "abcdefghijklmnopqrstuvwxyz"
    for _ in range(50_000):
        depth = rng.randrange(1, 6)
        path = "/" + "/".join(
            "".join(rng.choice(letters) for _ in range(rng.randrange(3, 9))) for _ in range(depth)
        )
        tree.add(rng.choice(["GET", "POST"]), path)
    assert tree.nodes <= 2_000
    assert len(tree.entries()) <= 2_000
    assert tree.total == 50_000
    assert sum(r.count for r in tree.entries()) + tree.other == 50_000


def test_a_missing_file_or_a_bad_format_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["discover", str(tmp_path / "nope.log")]) == 2
    assert "nope.log" in capsys.readouterr().err
    bad = tmp_path / "broken.har"
    bad.write_text("{not json")
    assert main(["discover", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.har" in err
    assert "Traceback" not in err
    assert main(["discover", "--format", "xml", str(bad)]) == 2
    assert "--format" in capsys.readouterr().err
