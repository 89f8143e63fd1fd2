"""A legacy and a new app with known differences, served by real uvicorn servers.

``GET /orgs/{slug}``: legacy answers ``{"slug", "plan": "pro", "members", "at"}`` where
``at`` changes on every call (noise). new answers the same, except for slug ``broken``
(``plan`` is ``"free"``) and slug ``gone`` (``plan`` missing). ``GET /users/{id}`` is the
same on both sides, except for id ``7`` (``name`` differs, with markup in it); with
``?trace=1`` it adds a random ``trace`` id (noise: it differs between two legacy answers).
``POST /orders`` answers ``{"id": 1, "status": "created"}`` on both sides and counts calls.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shadow.corpus import write_corpus
from shadow.exchange import CapturedRequest, CapturedResponse
from strangler._types import Receive, Scope, Send
from tests.conftest import LiveServer


@dataclass
class Api:
    """A tiny JSON API; ``side`` is ``legacy`` or ``new``."""

    side: str
    calls: list[str] = field(default_factory=list)
    ticks: itertools.count[int] = field(default_factory=itertools.count)

    def answer(self, method: str, path: str, query: str = "") -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["orders"]:
            return 201, {"id": 1, "status": "created"}
        if method in ("GET", "HEAD") and len(parts) == 2 and parts[0] == "orgs":
            slug = parts[1]
            doc: dict[str, Any] = {
                "slug": slug,
                "plan": "pro",
                "members": [{"id": 1, "name": "Ann"}],
                "at": f"2026-01-01T00:00:{next(self.ticks) % 60:02d}Z",
            }
            if self.side == "new" and slug == "broken":
                doc["plan"] = "free"
            if self.side == "new" and slug == "gone":
                del doc["plan"]
            return 200, doc
        if method == "GET" and len(parts) == 2 and parts[0] == "users":
            name = "Bob"
            if self.side == "new" and parts[1] == "7":
                name = "<script>alert(1)</script>"
            doc = {"id": parts[1], "name": name}
            if query == "trace=1":
                doc["trace"] = str(uuid.uuid4())
            return 200, doc
        return 404, {"error": "not found"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        self.calls.append(f"{scope['method']} {scope['path']}")
        status, doc = self.answer(
            scope["method"], scope["path"], scope["query_string"].decode("latin-1")
        )
        body = json.dumps(doc).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


@dataclass
class Pair:
    legacy: LiveServer
    new: LiveServer
    legacy_api: Api
    new_api: Api


@pytest.fixture
def pair(serve: Callable[..., LiveServer]) -> Pair:
    """legacy and new, each on its own real server."""
    legacy_api, new_api = Api("legacy"), Api("new")
    return Pair(serve(legacy_api), serve(new_api), legacy_api, new_api)


def get(path: str, route: str, query: str = "") -> tuple[CapturedRequest, CapturedResponse]:
    request = CapturedRequest(
        "GET", path, query, (("accept", "application/json"),), b"", route=route
    )
    return request, CapturedResponse(200, (("content-type", "application/json"),), b"{}")


@pytest.fixture
def make_corpus(pytester: pytest.Pytester) -> Callable[..., Path]:
    """``make_corpus(entries, name=...)`` writes a corpus file into pytester's folder (the
    inner run's rootdir) and returns its path."""

    def _make(
        entries: list[tuple[CapturedRequest, CapturedResponse | None]], name: str = "corpus.jsonl"
    ) -> Path:
        path = pytester.path / name
        write_corpus(path, entries)
        return path

    return _make


ORGS = "GET /orgs/{slug}"
USERS = "GET /users/{id}"


def write_config(
    path: Path,
    pair: Pair,
    *,
    orgs_mode: str = "legacy",
    users_mode: str = "legacy",
    gating: bool = False,
    extra: str = "",
) -> Path:
    """A strangler config naming the pair, both routes, and a SQLite store next to it."""
    percent = "\n    percent: 10" if orgs_mode == "canary" else ""
    path.write_text(
        f"""
legacy: {pair.legacy.url}
new: {pair.new.url}
store: sqlite:///store.db
routes:
  - route: {ORGS}
    mode: {orgs_mode}{percent}
    gating: {str(gating).lower()}
  - route: {USERS}
    mode: {users_mode}
  - route: POST /orders
    mode: shadow
{extra}
""",
        encoding="utf-8",
    )
    return path
