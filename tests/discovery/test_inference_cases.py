"""The templates a person would write from traffic that used to defeat the inference: a few
dozen org slugs (fewer than the fanout), hashes in file names, scanners' probes answered
404, a flood of random paths before or around the real endpoints, Windows-written logs."""

from __future__ import annotations

import json
import random
import re
import string
from pathlib import Path

import pytest

from strangler.cli import main
from strangler.discovery import TemplateTree, discover, identifier_kind
from tests.discovery.traffic import EXPECTED, NOT_FOUND, WRITERS, write_all


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _expected() -> dict[str, tuple[tuple[str, ...], int]]:
    """Shape -> (methods, requests): one entry per path, its methods together."""
    grouped: dict[str, tuple[set[str], int]] = {}
    for route, count in EXPECTED.items():
        method, path = route.split(" ", 1)
        methods, total = grouped.get(_shape(path), (set(), 0))
        grouped[_shape(path)] = (methods | {method}, total + count)
    return {shape: (tuple(sorted(m)), n) for shape, (m, n) in grouped.items()}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return write_all(tmp_path)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_format_gives_the_same_templates_without_a_raw_identifier(
    files: dict[str, Path], name: str
) -> None:
    found = discover([files[name]])
    got = {_shape(r.path): (r.methods, r.count) for r in found.routes}
    assert got == _expected()
    for r in found.routes:
        assert not re.search(
            r"/\d|[0-9a-f]{8}|-(fund|trust|aid|care|relief|society|works)\b", r.path
        )
    (stats,) = found.files.values()
    assert stats.not_found == NOT_FOUND  # the scanners' probes, left out


def test_the_openapi_document_describes_the_same_templates(files: dict[str, Path]) -> None:
    found = discover([files["openapi.yaml"]])
    assert {_shape(r.path): r.methods for r in found.routes} == {
        shape: methods for shape, (methods, _) in _expected().items()
    }


def test_404s_are_kept_when_asked_and_the_entries_pass_check(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = discover([files["access.log"]], include_404=True)
    assert "GET /wp-login.php" in {r.route for r in kept.routes}

    assert main(["discover", str(files["u_ex261205.log"])]) == 0
    out, err = capsys.readouterr()
    assert f"{NOT_FOUND} answered 404 left out" in err
    config = tmp_path / "strangler.yaml"
    config.write_text("legacy: http://127.0.0.1:9\nnew: http://127.0.0.1:9\n" + out)
    assert main(["check", "-c", str(config)]) == 0, capsys.readouterr().err
    assert f"{len(_expected())} routes" in capsys.readouterr().out


def test_hashes_and_ids_in_file_names_are_identifiers() -> None:
    assert identifier_kind("0419019fa461b70a.pdf") == "hash"
    assert identifier_kind("12.json") == "id"
    assert identifier_kind("favicon.ico") is None
    assert identifier_kind("index.html") is None


def test_a_few_words_going_on_with_the_same_word_are_one_parameter() -> None:
    tree = TemplateTree()
    for slug in ("acme", "hope", "blue-sky", "red-cross", "kind-aid", "north"):
        tree.add("GET", f"/orgs/{slug}/forms")
        tree.add("GET", f"/orgs/{slug}")
    for collection in ("users", "orders", "payments", "invoices", "refunds", "plans"):
        tree.add("GET", f"/api/{collection}/{random.randrange(1, 99)}")
    tree.add("GET", "/api/invoices/search")
    shapes = {_shape(r.route): r.count for r in tree.entries()}
    assert shapes["GET /orgs/{}/forms"] == 6
    assert shapes["GET /orgs/{}"] == 6
    assert "GET /api/users/{}" in shapes  # fixed collections stay
    assert "GET /api/invoices/search" in shapes
    # reading the entries does not change what later requests see
    tree.add("GET", "/orgs/acme/forms")
    assert {_shape(r.route): r.count for r in tree.entries()}["GET /orgs/{}/forms"] == 7


def _random_path(rng: random.Random) -> str:
    depth = rng.randint(1, 8)
    return "/" + "/".join("".join(rng.choices(string.ascii_lowercase, k=5)) for _ in range(depth))


def test_heavy_hitters_survive_a_flood_of_random_paths_in_bounded_memory() -> None:
    rng = random.Random(7)
    tree = TemplateTree(max_nodes=2_000)
    for i in range(20_000):
        if i % 10 == 0:
            tree.add("GET", "/health")
        if i % 25 == 0:
            tree.add("POST", "/payments")
        tree.add(rng.choice(["GET", "POST", "PUT"]), _random_path(rng))
        assert tree.nodes <= 2_000
    routes = {r.route: r.count for r in tree.entries()}
    assert routes["GET /health"] == 2_000
    assert routes["POST /payments"] == 800
    assert sum(routes.values()) + tree.other == tree.total == 22_800


def test_endpoints_that_come_after_a_flood_are_still_counted() -> None:
    rng = random.Random(8)
    tree = TemplateTree(max_nodes=1_000)
    for _ in range(10_000):
        tree.add("GET", _random_path(rng))
    for _ in range(50):
        tree.add("GET", "/orgs/acme/forms")
    assert {r.route: r.count for r in tree.entries()}["GET /orgs/acme/forms"] == 50
    assert tree.nodes <= 1_000


def test_a_byte_order_mark_and_windows_line_ends_are_read(tmp_path: Path) -> None:
    w3c = tmp_path / "u_ex.log"
    w3c.write_bytes(
        b"\xef\xbb\xbf#Software: Microsoft Internet Information Services 10.0\r\n"
        b"#Fields: date time cs-method cs-uri sc-status\r\n"
        b"2026-12-05 10:00:00 GET /orgs/12?x=1 200\r\n"
        b"2026-12-05 10:00:01 DELETE /orgs/13 200\r\n"
    )
    lines = tmp_path / "app.jsonl"
    lines.write_bytes(
        b'\xef\xbb\xbf{"method": "get", "uri": "/orgs/12", "status": 200}\r\n'
        b'{"method": "DELETE", "uri": "/orgs/13", "status": 200}\r\n'
    )
    for path in (w3c, lines):
        found = discover([path])
        assert next(iter(found.files.values())).unreadable == 0, path
        assert [(r.methods, _shape(r.path), r.count) for r in found.routes] == [
            (("DELETE", "GET"), "/orgs/{}", 2)
        ]


def test_json_lines_name_their_keys_nested_or_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    caddy = tmp_path / "caddy.jsonl"  # Caddy nests the request
    caddy.write_text(
        '{"request": {"method": "GET", "uri": "/orgs/12?x=1"}, "status": 200}\n'
        '{"request": {"method": "GET", "uri": "/.env"}, "status": 404}\n'
    )
    found = discover([caddy])
    assert [(r.route, r.count) for r in found.routes] == [("GET /orgs/{org_id}", 1)]
    assert found.files[str(caddy)].not_found == 1

    own = tmp_path / "app.jsonl"
    own.write_text(
        '{"verb": "PUT", "target": "/orgs/12", "code": 200}\n'
        '{"verb": "PUT", "target": "/orgs/13", "code": 404}\n'
    )
    assert main(["discover", str(own), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["routes"] == []  # no "method" or "path" there
    args = ["--method-key", "verb", "--path-key", "target", "--status-key", "code", "--json"]
    assert main(["discover", str(own), *args]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(r["route"], r["requests"]) for r in data["routes"]] == [("PUT /orgs/{org_id}", 1)]
    assert data["files"][str(own)]["not_found"] == 1


def test_reading_a_big_log_reports_its_progress(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    line = '10.0.0.1 - - [05/Dec/2026:10:00:00 +0000] "GET /health HTTP/1.1" 200 2 "-" "-"\n'
    log.write_text(line * 200_000)
    seen: list[tuple[Path, int, int]] = []
    discover([log], progress=lambda path, done, size: seen.append((path, done, size)))
    assert len(seen) >= 2
    assert all(path == log and size == log.stat().st_size for path, _, size in seen)
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)
    assert 0 < seen[-1][1] <= log.stat().st_size


def test_an_openapi_document_and_its_traffic_give_one_route_per_endpoint(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = discover([files["openapi.yaml"], files["access.log"]])
    got = {_shape(r.path): (r.methods, r.count) for r in found.routes}
    assert got == _expected()  # one entry per shape: the document's and the traffic's merged
    names = {r.route for r in found.routes}
    assert "GET /orgs/{slug}" in names  # only the document names it: its own name
    # the document's words stay, the words only traffic shows are values of its parameter
    doc = tmp_path / "openapi.json"
    paths = {"/orgs/{slug}": {"get": {}}, "/orgs/export": {"get": {}}}
    doc.write_text(json.dumps({"openapi": "3.0.3", "paths": paths}))
    log = tmp_path / "few.log"
    log.write_text(
        "".join(
            f'10.0.0.1 - - [05/Dec/2026:10:00:00 +0000] "GET /orgs/{slug} HTTP/1.1" 200 5\n'
            for slug in ("acme", "hope", "export", "export")
        )
    )
    both = {r.route: r.count for r in discover([doc, log]).routes}
    assert both == {"GET /orgs/{slug}": 2, "GET /orgs/export": 2}

    assert main(["discover", str(files["openapi.yaml"]), str(files["access.log"])]) == 0
    config = tmp_path / "strangler.yaml"
    config.write_text(
        "legacy: http://127.0.0.1:9\nnew: http://127.0.0.1:9\n" + capsys.readouterr().out
    )
    assert main(["check", "-c", str(config)]) == 0, capsys.readouterr().err


def test_slugs_of_which_some_carry_digits_are_named_as_slugs() -> None:
    """Org slugs, a few long ones with a number in them (which alone look like tokens)."""
    tree = TemplateTree()
    slugs = ["association-enfance", "friends-of-la-foret", "collectif-patrimoine",
             "les-amis-de-patrimoine-nantes-103", "secours-theatre-jeune", "hope-geneve",
             "association-sans-frontieres-quebec-109", "collectif-sante-mentale"]  # fmt: skip
    for slug in slugs:
        tree.add("GET", f"/orgs/{slug}/stats")
    assert [e.route for e in tree.entries()] == ["GET /orgs/{org}/stats"]
