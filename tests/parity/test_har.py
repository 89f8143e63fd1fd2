"""HAR import, through the function and through ``strangler corpus import-har``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from parity_tests.har import read_har
from parity_tests.record import import_har
from shadow.corpus import read_corpus
from strangler.cli import main
from tests.parity.conftest import ORGS, Pair, write_config


def _har(path: Path) -> Path:
    entries = [
        {
            "request": {
                "method": "GET",
                "url": "https://shop.example/orgs/acme?page=2",
                "headers": [
                    {"name": ":authority", "value": "shop.example"},
                    {"name": "Accept", "value": "application/json"},
                    {"name": "Authorization", "value": "Bearer s3cr3t-t0ken"},
                ],
            },
            "response": {
                "status": 200,
                "headers": [
                    {"name": "Content-Type", "value": "application/json"},
                    {"name": "Content-Encoding", "value": "gzip"},
                ],
                "content": {"mimeType": "application/json", "text": '{"slug": "acme"}'},
            },
            "time": 12.5,
        },
        {
            "request": {
                "method": "POST",
                "url": "https://shop.example/orders",
                "headers": [],
                "postData": {
                    "mimeType": "application/octet-stream",
                    "text": base64.b64encode(b"\x00\x01binary").decode(),
                    "encoding": "base64",
                },
            },
            "response": {
                "status": 201,
                "headers": [],
                "content": {
                    "mimeType": "application/json",
                    "text": base64.b64encode(b'{"id": 1}').decode(),
                    "encoding": "base64",
                },
            },
        },
        {"request": {"method": "GET", "url": "https://shop.example/unrouted", "headers": []}},
    ]
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    return path


def test_har_requests_and_responses_with_text_and_base64_bodies(tmp_path: Path) -> None:
    (get, got), (post, created), (unrouted, none) = list(read_har(_har(tmp_path / "s.har")))
    assert (get.method, get.path, get.query) == ("GET", "/orgs/acme", "page=2")
    assert get.header(":authority") is None
    assert got is not None
    assert got.body == b'{"slug": "acme"}'
    assert got.header("content-encoding") is None  # HAR bodies are stored decoded
    assert post.body == b"\x00\x01binary"
    assert post.header("content-type") == "application/octet-stream"
    assert created is not None
    assert created.body == b'{"id": 1}'
    assert none is None
    assert unrouted.path == "/unrouted"


def test_import_matches_routes_redacts_and_drops_unmatched(pair: Pair, tmp_path: Path) -> None:
    from strangler.config import load_config

    cfg = load_config(write_config(tmp_path / "strangler.yaml", pair))
    out = tmp_path / "corpus.jsonl"
    report = import_har(_har(tmp_path / "s.har"), out, config=cfg)
    assert report.per_route == {ORGS: 1, "POST /orders": 1}
    assert report.unmatched == 1
    assert "s3cr3t" not in out.read_text()
    routes = [r.route for r, _ in read_corpus(out)]
    assert routes == [ORGS, "POST /orders"]


def test_cli_import_har(pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "strangler.yaml", pair)
    out = tmp_path / "c.jsonl"
    code = main(
        [
            "corpus",
            "import-har",
            str(_har(tmp_path / "s.har")),
            "-c",
            str(config),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "wrote 2 entries" in capsys.readouterr().out
    assert len(list(read_corpus(out))) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "a HAR file (JSON)"),
        ('{"log": {}}', "log.entries: got None, expected a HAR 1.2 document"),
        ('{"log": {"entries": [{"response": {}}]}}', "log.entries[0]"),
    ],
)
def test_a_bad_har_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    har = tmp_path / "bad.har"
    har.write_text(content)
    code = main(["corpus", "import-har", str(har), "--out", str(tmp_path / "c.jsonl")])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
