"""Corpus recording: per-route reservoir sampling, de-duplication, routes, redaction."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from parity_tests.listen import RecordingProxy
from parity_tests.record import corpus_redactor, sample, write_sample
from parity_tests.recording import CorpusSampler, fingerprint, route_matcher
from shadow.corpus import read_corpus
from shadow.exchange import CapturedRequest, CapturedResponse
from strangler.cli import main
from strangler.config import load_config
from strangler.store import Store
from strangler.store.shadow_models import ShadowExchangeRow
from tests.conftest import LiveServer
from tests.parity.conftest import ORGS, USERS, Pair, write_config

CARD = "4111 1111 1111 1111"
IBAN = "DE89370400440532013000"
SECRETS = ("Bearer s3cr3t-t0ken", "session=abcdef123456", "key-9f8e7d6c5b4a", "4111111111111111")


def _orgs(slug: str) -> CapturedRequest:
    return CapturedRequest("GET", f"/orgs/{slug}", headers=(("accept", "application/json"),))


def test_reservoir_keeps_at_most_per_route_and_every_route_gets_its_share() -> None:
    def match(method: str, path: str) -> str | None:
        return (
            ORGS if path.startswith("/orgs/") else (USERS if path.startswith("/users/") else None)
        )

    sampler = CorpusSampler(match, per_route=10, seed=7)
    for i in range(1000):
        sampler.offer(_orgs(f"o{i}"), CapturedResponse(200))
    for i in range(3):
        sampler.offer(CapturedRequest("GET", f"/users/{i}"), CapturedResponse(200))
    sampler.offer(CapturedRequest("GET", "/elsewhere"), CapturedResponse(200))

    entries = sampler.entries()
    routes = [r.route for r, _ in entries]
    assert routes.count(ORGS) == 10
    assert routes.count(USERS) == 3  # a quiet route is not crowded out by a busy one
    assert sampler.stats.unmatched == 1
    # a uniform sample over the whole stream, not just its first entries
    slugs = {int(r.path.rsplit("/o", 1)[1]) for r, _ in entries if r.route == ORGS}
    assert max(slugs) > 100


def test_duplicates_are_dropped_but_relevant_headers_and_bodies_count() -> None:
    sampler = CorpusSampler(lambda m, p: ORGS, per_route=50)
    base = _orgs("acme")
    sampler.offer(base, None)
    sampler.offer(base, None)  # same request
    sampler.offer(
        CapturedRequest(
            "GET", "/orgs/acme", headers=(("accept", "application/json"), ("user-agent", "x"))
        ),
        None,
    )  # differs only in an irrelevant header
    sampler.offer(CapturedRequest("GET", "/orgs/acme", headers=(("accept", "text/html"),)), None)
    sampler.offer(CapturedRequest("GET", "/orgs/acme", query="page=2"), None)
    sampler.offer(CapturedRequest("POST", "/orgs/acme", body=b"{}"), None)
    assert sampler.stats.duplicates == 2
    assert len(sampler.entries()) == 4


def test_fingerprint_is_stable_and_ignores_header_order() -> None:
    a = CapturedRequest("GET", "/a", "x=1", (("accept", "a/b"), ("content-type", "c/d")))
    b = CapturedRequest("GET", "/a", "x=1", (("content-type", "c/d"), ("accept", "a/b")))
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(CapturedRequest("GET", "/a", "x=2", a.headers))


def test_routes_are_matched_with_the_config_table(pair: Pair, tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path / "strangler.yaml", pair))
    match = route_matcher(cfg)
    assert match("GET", "/orgs/acme") == ORGS
    assert match("POST", "/orders") == "POST /orders"
    assert match("GET", "/nowhere") is None


def _planted_request(i: int) -> tuple[CapturedRequest, CapturedResponse]:
    request = CapturedRequest(
        "POST",
        "/orders",
        query=f"api_key=key-9f8e7d6c5b4a&n={i}",
        headers=(
            ("authorization", "Bearer s3cr3t-t0ken"),
            ("cookie", "session=abcdef123456"),
            ("x-api-key", "key-9f8e7d6c5b4a"),
            ("content-type", "application/json"),
        ),
        body=json.dumps({"card": CARD, "iban": IBAN, "password": "hunter2", "n": i}).encode(),
    )
    response = CapturedResponse(
        201,
        (("content-type", "application/json"), ("set-cookie", "session=abcdef123456; HttpOnly")),
        json.dumps({"paid_with": "4111111111111111", "token": "key-9f8e7d6c5b4a"}).encode(),
    )
    return request, response


def _assert_no_secret(path: Path) -> None:
    raw = path.read_text()
    decoded = raw
    for line in raw.splitlines():
        doc = json.loads(line)
        decoded += base64.b64decode(doc["body_b64"]).decode()
        decoded += base64.b64decode(doc.get("response", {}).get("body_b64", "")).decode()
    for secret in (*SECRETS, CARD, IBAN, "hunter2"):
        assert secret not in decoded, f"{secret!r} leaked into the corpus"


def test_planted_secrets_never_reach_the_corpus_file(pair: Pair, tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path / "strangler.yaml", pair))
    sampler = sample([_planted_request(i) for i in range(5)], cfg, per_route=10)
    out = tmp_path / "corpus.jsonl"
    report = write_sample(sampler, out)
    assert report.per_route == {"POST /orders": 5}
    _assert_no_secret(out)
    # what is not secret stays, so the entry can still be replayed and compared
    request, response = next(iter(read_corpus(out)))
    assert json.loads(request.body or b"")["n"] == 0
    assert request.header("content-type") == "application/json"
    assert response is not None
    assert response.status == 201


def test_configured_redact_fields_are_applied(pair: Pair, tmp_path: Path) -> None:
    cfg = load_config(
        write_config(tmp_path / "s.yaml", pair, extra="rules:\n  redact:\n    fields: [slug]\n")
    )
    redact = corpus_redactor(cfg)
    _, response = redact(
        CapturedRequest("GET", "/orgs/acme", route=ORGS),
        CapturedResponse(200, (("content-type", "application/json"),), b'{"slug": "acme"}'),
    )
    assert response is not None
    assert b"acme" not in (response.body or b"")


def test_recording_proxy_serves_legacy_and_writes_a_redacted_corpus(
    pair: Pair, tmp_path: Path, serve: Callable[..., LiveServer]
) -> None:
    cfg = load_config(write_config(tmp_path / "strangler.yaml", pair, orgs_mode="new"))
    sampler = CorpusSampler(route_matcher(cfg), per_route=2, redact=corpus_redactor(cfg), seed=1)
    recorder = RecordingProxy(cfg, sampler)
    proxy = serve(recorder.app)
    secret_headers = {"authorization": "Bearer s3cr3t-t0ken", "cookie": "session=abcdef123456"}
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        for slug in ("a", "b", "c", "a"):
            resp = client.get(f"/orgs/{slug}", headers=secret_headers)
            assert resp.status_code == 200
            assert resp.json()["plan"] == "pro"  # legacy answered, although the route is in new
        assert client.get("/users/1", params={"api_key": "key-9f8e7d6c5b4a"}).status_code == 200
        assert client.get("/unrouted").status_code == 404
    out = tmp_path / "corpus.jsonl"
    report = write_sample(sampler, out)
    assert report.per_route == {ORGS: 2, USERS: 1}
    assert report.duplicates == 1
    assert pair.new_api.calls == []  # recording never calls new
    assert sorted(pair.legacy_api.calls) == sorted(
        [
            "GET /orgs/a",
            "GET /orgs/b",
            "GET /orgs/c",
            "GET /orgs/a",
            "GET /users/1",
            "GET /unrouted",
        ]
    )
    _assert_no_secret(out)
    entries = list(read_corpus(out))
    assert all(r.header("x-forwarded-for") is None for r, _ in entries)
    assert all(resp is not None and resp.status == 200 for _, resp in entries)


def _stored(route: str, path: str, **kw: object) -> ShadowExchangeRow:
    values: dict[str, object] = {
        "route": route,
        "at": datetime.now(UTC),
        "instance": "test",
        "outcome": "mismatch",
        "method": "GET",
        "path": path,
        "query": "",
        "request_headers": [["accept", "application/json"]],
        "request_body": "",
        "primary_side": "legacy",
        "candidate_side": "new",
        "primary_status": 200,
        "primary_headers": [["content-type", "application/json"]],
        "primary_body": '{"slug": "x"}',
        "candidate_status": 200,
    }
    values.update(kw)
    return ShadowExchangeRow(**values)


def test_record_from_store_takes_the_shadow_recorders_exchanges(
    pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "strangler.yaml", pair)
    store = Store(load_config(config).store)
    store.ensure_schema()
    old = datetime.now(UTC) - timedelta(hours=3)
    with store.session() as s:
        s.add_all(
            [
                _stored(ORGS, "/orgs/a"),
                _stored(ORGS, "/orgs/a"),  # a duplicate
                _stored(ORGS, "/orgs/old", at=old),
                _stored(
                    ORGS, "/orgs/big", method="POST", request_body="[not kept: over the buffer cap]"
                ),
                _stored(
                    USERS,
                    "/users/1",
                    primary_side="new",
                    candidate_side="legacy",
                    primary_body='{"who": "new"}',
                    candidate_body='{"who": "legacy"}',
                ),
                _stored(USERS, "/users/2", primary_body="[binary body: 10 bytes, sha256:abc]"),
            ]
        )
    store.close()
    out = tmp_path / "corpus.jsonl"
    code = main(["record", "-c", str(config), "--from-store", "--since", "1h", "--out", str(out)])
    assert code == 0
    assert "wrote 3 entries" in capsys.readouterr().out
    entries = {r.path: resp for r, resp in read_corpus(out)}
    assert sorted(entries) == ["/orgs/a", "/users/1", "/users/2"]
    legacy_answer = entries["/users/1"]
    assert legacy_answer is not None
    assert legacy_answer.body == b'{"who": "legacy"}'  # reverse shadowing: legacy was the candidate
    assert entries["/users/2"] is None  # a body not stored whole is left out


def test_record_from_an_empty_store_says_what_to_do(
    pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "strangler.yaml", pair)
    code = main(["record", "-c", str(config), "--from-store", "--out", str(tmp_path / "c.jsonl")])
    assert code == 1
    assert "strangler db upgrade" in capsys.readouterr().err
