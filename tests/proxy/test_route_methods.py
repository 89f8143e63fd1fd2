"""Methods and paths that belong to a route: HEAD follows GET, a CORS preflight follows the
route it asks about, and a trailing slash does not send a request elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from strangler.config import parse_config
from strangler.proxy import Proxy
from tests.conftest import LiveServer, start_server


def _side(name: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = name.encode()
        headers = [(b"x-side", body), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture(scope="module")
def sides() -> Iterator[tuple[LiveServer, LiveServer]]:
    legacy, new = start_server(_side("legacy")), start_server(_side("new"))
    yield legacy, new
    new.stop()
    legacy.stop()


def _proxy(sides: tuple[LiveServer, LiveServer], **paths: str) -> LiveServer:
    legacy, new = sides
    cfg = parse_config(
        {
            "legacy": legacy.url,
            "new": new.url,
            "routes": [{"route": "GET /orgs/{slug}", "mode": "new"}],
            "proxy": {"paths": paths},
        }
    )
    return start_server(Proxy(cfg))


def test_head_preflight_and_trailing_slash_follow_the_route(
    sides: tuple[LiveServer, LiveServer],
) -> None:
    proxy = _proxy(sides)
    try:
        with httpx.Client(base_url=proxy.url) as c:
            assert c.head("/orgs/acme").headers["x-side"] == "new"
            preflight = {"origin": "https://app.example", "access-control-request-method": "GET"}
            assert c.options("/orgs/acme", headers=preflight).headers["x-side"] == "new"
            post = {**preflight, "access-control-request-method": "POST"}
            assert c.options("/orgs/acme", headers=post).headers["x-side"] == "legacy"
            assert c.options("/orgs/acme").headers["x-side"] == "legacy"  # not a preflight
            assert c.get("/orgs/acme/").headers["x-side"] == "new"
            assert c.head("/orgs/acme/").headers["x-side"] == "new"
            assert c.get("/orgs").headers["x-side"] == "legacy"
    finally:
        proxy.stop()


def test_a_strict_trailing_slash_policy_keeps_the_slash_apart(
    sides: tuple[LiveServer, LiveServer],
) -> None:
    proxy = _proxy(sides, trailing_slash="strict")
    try:
        with httpx.Client(base_url=proxy.url) as c:
            assert c.get("/orgs/acme/").headers["x-side"] == "legacy"
            assert c.get("/orgs/acme").headers["x-side"] == "new"
    finally:
        proxy.stop()
