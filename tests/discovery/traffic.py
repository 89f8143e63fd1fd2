"""One day of a legacy API's traffic, written in every format ``strangler discover`` reads.

The same requests (ids, UUIDs, hashes, dates, org slugs, nested resources, a few fixed
endpoints, some scanner probes answered 404) become an nginx combined log, an Apache common
log, an IIS W3C log, JSON lines and a HAR file; ``OPENAPI`` describes the same API.
``EXPECTED`` is what a person would write for it, with the number of requests of each.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ADJECTIVES = ["acme", "hope", "blue", "green", "north", "bright", "open", "kind", "river"]
NOUNS = ["fund", "trust", "aid", "care", "relief", "society", "works"]
SLUGS = sorted({f"{a}-{n}" for a in ADJECTIVES for n in NOUNS})[:40]


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with its query string, as sent
    status: int


def _requests(seed: int = 15) -> tuple[list[Request], Counter[str]]:
    rnd = random.Random(seed)
    out: list[Request] = []
    expected: Counter[str] = Counter()

    def add(route: str, method: str, path: str, status: int = 200) -> None:
        out.append(Request(method, path, status))
        expected[route] += 1

    for _ in range(600):
        slug = rnd.choice(SLUGS)
        form, field = rnd.randint(1, 99999), rnd.randint(1, 500)
        pick = rnd.random()
        if pick < 0.25:
            add("GET /orgs/{slug}", "GET", f"/orgs/{slug}")
        elif pick < 0.40:
            add("GET /orgs/{slug}/forms", "GET", f"/orgs/{slug}/forms?page={rnd.randint(1, 9)}")
        elif pick < 0.55:
            add("GET /orgs/{slug}/forms/{id}", "GET", f"/orgs/{slug}/forms/{form}")
        elif pick < 0.60:
            add("PUT /orgs/{slug}/forms/{id}", "PUT", f"/orgs/{slug}/forms/{form}")
        elif pick < 0.68:
            add(
                "GET /orgs/{slug}/forms/{form_id}/fields/{id}",
                "GET",
                f"/orgs/{slug}/forms/{form}/fields/{field}",
            )
        elif pick < 0.76:
            add("GET /donations/{uuid}", "GET", f"/donations/{uuid.UUID(int=rnd.getrandbits(128))}")
        elif pick < 0.80:
            add("GET /receipts/{hash}", "GET", f"/receipts/{rnd.getrandbits(64):016x}.pdf")
        elif pick < 0.84:
            day = f"2026-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
            add("GET /reports/{date}", "GET", f"/reports/{day}")
        elif pick < 0.90:
            add("POST /payments", "POST", "/payments")
        elif pick < 0.96:
            add("GET /health", "GET", "/health")
        else:
            add("GET /api/v1/me", "GET", "/api/v1/me")
    # scanners: answered 404, left out by default
    for probe in ("/wp-login.php", "/.env", "/phpmyadmin/index.php", "/admin/config.bak"):
        out.append(Request("GET", probe, 404))
    rnd.shuffle(out)
    return out, expected


REQUESTS, EXPECTED = _requests()
COUNTED = sum(EXPECTED.values())
NOT_FOUND = sum(1 for r in REQUESTS if r.status == 404)

OPENAPI = """\
openapi: 3.0.3
info: {title: legacy donations API, version: "1"}
servers:
  - url: https://legacy.example.org
paths:
  /orgs/{slug}:
    parameters: [{name: slug, in: path, required: true, schema: {type: string}}]
    get: {responses: {"200": {description: an org}}}
  /orgs/{slug}/forms:
    get: {responses: {"200": {description: forms}}}
  /orgs/{slug}/forms/{id}:
    get: {responses: {"200": {description: a form}}}
    put: {responses: {"200": {description: updated}}}
  /orgs/{slug}/forms/{form_id}/fields/{id}:
    get: {responses: {"200": {description: a field}}}
  /donations/{uuid}:
    get: {responses: {"200": {description: a donation}}}
  /receipts/{hash}:
    get: {responses: {"200": {description: a receipt}}}
  /reports/{date}:
    get: {responses: {"200": {description: a report}}}
  /payments:
    post: {responses: {"201": {description: paid}}}
  /health:
    get: {responses: {"200": {description: up}}}
  /api/v1/me:
    get: {responses: {"200": {description: who am I}}}
"""

STAMP = "05/Dec/2026:10:{m:02d}:{s:02d} +0000"


def _stamp(i: int) -> str:
    return STAMP.format(m=(i // 60) % 60, s=i % 60)


def nginx(requests: list[Request]) -> str:
    return "".join(
        f'10.0.0.{i % 250} - - [{_stamp(i)}] "{r.method} {r.path} HTTP/1.1" {r.status} '
        f'{100 + i} "https://legacy.example.org/" "Mozilla/5.0 (X11; Linux x86_64)"\n'
        for i, r in enumerate(requests)
    )


def apache(requests: list[Request]) -> str:
    """Common Log Format (Apache's default), a user name on some lines."""
    return "".join(
        f"192.168.1.{i % 250} - {'-' if i % 3 else 'frank'} [{_stamp(i)}] "
        f'"{r.method} {r.path} HTTP/1.0" {r.status} {2000 + i}\n'
        for i, r in enumerate(requests)
    )


def iis(requests: list[Request]) -> str:
    lines = [
        "#Software: Microsoft Internet Information Services 10.0",
        "#Version: 1.0",
        "#Date: 2026-12-05 10:00:00",
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username "
        "c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
    ]
    for i, r in enumerate(requests):
        stem, _, query = r.path.partition("?")
        lines.append(
            f"2026-12-05 10:{(i // 60) % 60:02d}:{i % 60:02d} 10.1.1.1 {r.method} {stem} "
            f"{query or '-'} 443 - 10.2.2.{i % 250} Mozilla/5.0+(Windows+NT+10.0) - "
            f"{r.status} 0 0 {i % 97}"
        )
    return "\n".join(lines) + "\n"


def json_lines(requests: list[Request]) -> str:
    return "".join(
        json.dumps({"ts": f"2026-12-05T10:00:{i % 60:02d}Z", "method": r.method, "uri": r.path,
                    "status": r.status, "ms": i % 40}) + "\n"
        for i, r in enumerate(requests)
    )  # fmt: skip


def har(requests: list[Request]) -> str:
    entries = [
        {
            "startedDateTime": f"2026-12-05T10:00:{i % 60:02d}.000Z",
            "time": 12,
            "request": {
                "method": r.method,
                "url": f"https://legacy.example.org{r.path}",
                "httpVersion": "HTTP/1.1",
                "headers": [],
                "queryString": [],
            },
            "response": {"status": r.status, "statusText": "", "headers": [], "content": {}},
        }
        for i, r in enumerate(requests)
    ]
    return json.dumps({"log": {"version": "1.2", "creator": {"name": "test"}, "entries": entries}})


WRITERS = {
    "access.log": nginx,
    "apache_access_log": apache,
    "u_ex261205.log": iis,
    "requests.jsonl": json_lines,
    "session.har": har,
}
FORMAT_OF = {
    "access.log": "combined",
    "apache_access_log": "combined",
    "u_ex261205.log": "iis",
    "requests.jsonl": "jsonl",
    "session.har": "har",
}


def write_all(folder: Path) -> dict[str, Path]:
    """Every traffic file and ``openapi.yaml`` in ``folder``, by file name."""
    out = {}
    for name, writer in WRITERS.items():
        out[name] = folder / name
        out[name].write_text(writer(REQUESTS), encoding="utf-8")
    out["openapi.yaml"] = folder / "openapi.yaml"
    out["openapi.yaml"].write_text(OPENAPI, encoding="utf-8")
    return out
