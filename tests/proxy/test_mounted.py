"""The proxy mounted inside another application (Starlette ``Mount``, FastAPI ``mount``)
routes on the path inside the mount and forwards what the backend expects."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from strangler.config import parse_config
from strangler.proxy import Proxy
from tests.conftest import LiveServer, start_server


def _side(name: str, seen: list[str]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append(scope["raw_path"].decode())
        body = name.encode()
        headers = [(b"x-side", body), (b"content-length", str(len(body)).encode())]
        status = 200
        if scope["path"] in ("/orgs/moved", "/orgs/moved-here"):
            # A redirect naming the backend's own URL, or a path on its own host.
            host, port = scope["server"]
            own = f"http://{host}:{port}" if scope["path"] == "/orgs/moved" else ""
            status, headers = 307, [*headers, (b"location", f"{own}/orgs/acme".encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture(scope="module")
def sides() -> Iterator[tuple[LiveServer, LiveServer, list[str]]]:
    seen: list[str] = []
    legacy, new = start_server(_side("legacy", seen)), start_server(_side("new", seen))
    yield legacy, new, seen
    new.stop()
    legacy.stop()


def _proxy(sides: tuple[LiveServer, LiveServer, list[str]], **paths: str) -> Proxy:
    legacy, new, _ = sides
    routes = [{"route": "GET /orgs/{slug}", "mode": "new"}]
    if paths.get("root_path") == "keep":
        routes = [{"route": "GET /api/orgs/{slug}", "mode": "new"}]
    cfg = parse_config(
        {"legacy": legacy.url, "new": new.url, "routes": routes, "proxy": {"paths": paths}}
    )
    return Proxy(cfg)


def _host(kind: str, proxy: Proxy) -> Any:
    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("host app")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        # A mount does not pass the lifespan on: the host starts and stops the proxy.
        await proxy.startup()
        yield
        await proxy.aclose()

    if kind == "starlette":
        return Starlette(routes=[Route("/", home), Mount("/api", app=proxy)], lifespan=lifespan)
    app = FastAPI(lifespan=lifespan)
    app.mount("/api", proxy)
    return app


@pytest.mark.parametrize("kind", ["starlette", "fastapi"])
def test_a_mounted_proxy_routes_inside_the_mount(
    sides: tuple[LiveServer, LiveServer, list[str]], kind: str
) -> None:
    seen = sides[2]
    seen.clear()
    host = start_server(_host(kind, _proxy(sides)))
    try:
        resp = httpx.get(f"{host.url}/api/orgs/acme?x=1")
        assert resp.headers["x-side"] == "new"
        assert httpx.get(f"{host.url}/api/elsewhere").headers["x-side"] == "legacy"
        assert seen == ["/orgs/acme", "/elsewhere"]  # the path inside the mount
        # The backend's redirects point back into the mount, where the client came from.
        moved = httpx.get(f"{host.url}/api/orgs/moved")
        assert moved.status_code == 307
        assert moved.headers["location"] == f"{host.url}/api/orgs/acme"
        here = httpx.get(f"{host.url}/api/orgs/moved-here")
        assert here.headers["location"] == "/api/orgs/acme"
        assert httpx.get(f"{host.url}/api/orgs/moved", follow_redirects=True).text == "new"
    finally:
        host.stop()


def test_root_path_keep_forwards_the_prefix(
    sides: tuple[LiveServer, LiveServer, list[str]],
) -> None:
    seen = sides[2]
    seen.clear()
    host = start_server(_host("starlette", _proxy(sides, root_path="keep")))
    try:
        assert httpx.get(f"{host.url}/api/orgs/acme").headers["x-side"] == "new"
        assert seen == ["/api/orgs/acme"]
    finally:
        host.stop()
