"""A noisy pair: a legacy service and its port that differ in noise everywhere and in real
regressions on some routes. Used by ``test_verdicts.py`` and ``bench/bench_verdicts.py``.

Noise on every route (legacy differs from itself, or the frameworks differ harmlessly): a
timestamp with microseconds, a request id (UUID) in the body and a header, a list in random
order, ``charset=utf-8`` on one side only, CORS headers on one side only, the request's
headers echoed in the body with their names in the framework's own case.

Regressions, each on its own route, with the field and kind the report must name.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from strangler.config import parse_config
from strangler.proxy import Proxy
from strangler.recorder import Recorder
from strangler.report import build_report
from strangler.shadowing import attach_shadow
from strangler.store import Store
from strangler.store.shadow_models import ShadowExchangeRow
from strangler.store.traffic import window_stats
from tests.conftest import start_server

#: route path -> (field, kind) the report must show; None: no regression (noise only)
EXPECTED: dict[str, tuple[str, str] | None] = {
    "/n/clean": None,
    "/r/status": ("status", "status"),
    "/r/missing": ("$.email", "missing"),
    "/r/type": ("$.count", "type"),
    "/r/fraction": ("$.total", "value"),
    "/r/rare": ("$.total", "value"),
    "/r/lost": ("$.tags[?]", "missing"),
    "/r/ctype": ("header:content-type", "header"),
    "/r/added": ("$.debug", "added"),
    "/r/framing": ("header:framing", "framing"),
}


def _doc(rng: random.Random) -> dict[str, Any]:
    tags = ["a", "b", "c", "d", "e"]
    rng.shuffle(tags)
    return {
        "id": 7,
        "email": "ops@example.org",
        "count": 3,
        "total": 42.5,
        "at": datetime.now(UTC).isoformat(),
        "request_id": str(uuid.uuid4()),
        "tags": tags,
    }


def _app(side: str) -> Callable[..., Any]:
    rng = random.Random(side)
    counters: dict[str, itertools.count[int]] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        n = next(counters.setdefault(path, itertools.count()))
        doc, status = _doc(rng), 200
        # An echo of what the request carried: header names in this framework's case.
        echoed = {k.decode(): v.decode() for k, v in scope["headers"] if k != b"x-strangler-shadow"}
        echoed = {
            k.title(): v
            for k, v in echoed.items()
            if k in ("accept", "user-agent", "accept-encoding")
        }
        doc["echo"] = echoed
        doc["userId"] = 7
        ctype = "application/json"
        headers = [(b"x-request-id", str(uuid.uuid4()).encode())]
        if side == "new":
            doc["echo"] = {k.lower(): v for k, v in echoed.items()}
            ctype = "application/json; charset=utf-8"
            headers.append((b"access-control-allow-origin", b"*"))
            if path == "/r/status":
                status = 500
            elif path == "/r/missing":
                del doc["email"]
            elif path == "/r/type":
                doc["count"] = "3"
            elif path == "/r/fraction" and n % 10 < 3:
                doc["total"] = 45.0
            elif path == "/r/rare" and n % 20 == 7:
                doc["total"] = 0.0
            elif path == "/r/lost":
                doc["tags"] = [t for t in doc["tags"] if t != "d"]
            elif path == "/r/ctype":
                ctype = "text/html; charset=utf-8"
            elif path == "/r/added":
                doc["debug"] = True
            elif path == "/r/keycase":  # a JSON key's case is the API: a real regression
                doc["userid"] = doc.pop("userId")
        body = orjson.dumps(doc)
        headers.append((b"content-type", ctype.encode()))
        chunked = side == "new" and path == "/r/framing"
        if not chunked:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if chunked:  # no length: uvicorn sends it chunked
            await send({"type": "http.response.body", "body": body[:10], "more_body": True})
            await send({"type": "http.response.body", "body": body[10:]})
        else:
            await send({"type": "http.response.body", "body": body})

    return app


@dataclass
class Found:
    """What the store says after the traffic, per route: reported (field, kind) pairs."""

    reported: dict[str, set[tuple[str, str]]]
    legacy_calls: int
    requests: int
    match_rates: dict[str, float | None]  # the report's, per route path
    parity: dict[str, float | None]  # what readiness judges, per route path

    def recall(self) -> float:
        wanted = [(r, e) for r, e in EXPECTED.items() if e is not None]
        hit = sum(1 for r, e in wanted if e in self.reported.get(r, set()))
        return hit / len(wanted)

    def false_alarms(self) -> list[tuple[str, str, str]]:
        out = []
        for route, pairs in self.reported.items():
            expected = EXPECTED.get(route)
            for field, kind in pairs:
                if expected is None or field != expected[0]:
                    out.append((route, field, kind))
        return sorted(out)


def run_pair(tmp: Path, per_route: int, *, marks: list[int] | None = None) -> list[Found]:
    """Send ``per_route`` requests to every route through a shadowing proxy at the default
    settings (the framing route asks for framing), and read what the store reports after
    each of ``marks`` requests per route (default: only at the end)."""
    marks = marks or [per_route]
    legacy = start_server(_app("legacy"))
    new = start_server(_app("new"))
    calls = {"legacy": 0}
    counting = legacy.server.config.app

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            calls["legacy"] += 1
        await counting(scope, receive, send)

    legacy.server.config.app = counted  # type: ignore[assignment]
    legacy.server.config.loaded_app = counted  # type: ignore[attr-defined]
    routes: list[dict[str, Any]] = [{"route": f"GET {p}", "mode": "shadow"} for p in EXPECTED]
    framing = next(r for r in routes if r["route"] == "GET /r/framing")
    framing["rules"] = {"headers": {"compare": ["content-type", "framing"]}}
    cfg = parse_config(
        {
            "legacy": legacy.url,
            "new": new.url,
            "store": f"sqlite:///{tmp / 'verdicts.db'}",
            "routes": routes,
        }
    )
    store = Store(cfg.store)
    store.ensure_schema()
    proxy = Proxy(cfg)
    runner = attach_shadow(proxy, cfg, store)
    served = start_server(proxy)
    found: list[Found] = []
    sent = 0
    try:
        with httpx.Client(base_url=served.url, timeout=30) as client:
            for mark in marks:
                while sent < mark:
                    for path in EXPECTED:
                        client.get(path)
                    sent += 1
                deadline = time.monotonic() + 60
                while runner.submitted < sent * len(EXPECTED) or runner.in_flight:
                    assert time.monotonic() < deadline, "shadow calls did not finish"
                    time.sleep(0.01)
                recorder = runner.sink
                assert isinstance(recorder, Recorder)
                assert recorder.flush(timeout=30)
                found.append(_read(store, calls["legacy"], sent * len(EXPECTED)))
    finally:
        served.stop()
        new.stop()
        legacy.stop()
        store.close()
    return found


def _read(store: Store, legacy_calls: int, requests: int) -> Found:
    """The open findings, as the report shows them: fields that differed against new and
    that learning does not call noise, with the kinds their differences had."""
    report = build_report(store, None, since=timedelta(hours=1), top=None)
    open_ = {
        (r.route, f.field)
        for r in report.routes
        for f in r.fields
        if f.mismatches > 0 and f.status != "noise"
    }
    reported: dict[str, set[tuple[str, str]]] = {}
    with store.session() as s:
        for row in s.scalars(select(ShadowExchangeRow)).all():
            for d in row.differences or []:
                if (row.route, d.get("field", "")) in open_:
                    reported.setdefault(row.route.split(" ", 1)[1], set()).add(
                        (d.get("field", ""), d.get("kind", ""))
                    )
    rates = {r.route.split(" ", 1)[1]: r.match_rate for r in report.routes}
    now = datetime.now(UTC)
    stats = window_stats(store, now - timedelta(hours=1), now)
    parity = {route.split(" ", 1)[1]: w.parity for route, w in stats.items()}
    return Found(reported, legacy_calls, requests, rates, parity)
