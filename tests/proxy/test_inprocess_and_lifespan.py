"""The proxy with in-process ASGI and WSGI backends, and its lifecycle (with and without lifespan)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from strangler.proxy import Proxy
from tests.conftest import LiveServer
from tests.proxy.conftest import Proxied, make_config
from tests.proxy.sides import legacy_asgi, new_asgi


def test_wsgi_legacy_and_asgi_new_in_process(proxied: Callable[..., Proxied]) -> None:
    p = proxied(
        [{"route": "GET,POST /orgs/{slug}", "mode": "canary", "percent": 0}],
        legacy="tests.proxy.sides:legacy_wsgi",
        new="tests.proxy.sides:new_asgi",
    )
    resp = p.request("POST", "/orgs/acme?x=1", content=b"form=1", headers={"Host": "shop.example"})
    assert resp.status_code == 200
    assert resp.json() == {
        "side": "legacy-wsgi",
        "method": "POST",
        "path": "/orgs/acme",
        "query": "x=1",
        "body": "form=1",
        "host": "shop.example",  # in-process: the client's host is kept
    }
    assert resp.headers.get_list("set-cookie") == ["a=1", "b=2"]
    forced = p.get(
        "/orgs/acme",
        headers={"X-Strangler-Side": "new", "X-Strangler-Token": "s3cret-admin-token"},
    )
    assert forced.json()["side"] == "new"
    assert new_asgi.lifespan_started  # the in-process app's lifespan ran at proxy startup
    assert dict(new_asgi.calls[-1].headers)["x-forwarded-for"] == "127.0.0.1"


def test_lifespan_runs_hooks_and_closes(serve: Callable[..., LiveServer]) -> None:
    events: list[str] = []
    proxy = Proxy(make_config("tests.proxy.sides:legacy_asgi", "tests.proxy.sides:new_asgi", []))

    async def up() -> None:
        events.append("up")

    async def down() -> None:
        events.append("down")

    proxy.on_startup.append(up)
    proxy.on_shutdown.append(down)
    live = serve(proxy, lifespan="on")
    assert events == ["up"]  # before any request
    import httpx

    assert httpx.get(live.url + "/echo/x", timeout=30).json()["side"] == "legacy"
    live.stop()
    assert events == ["up", "down"]
    assert legacy_asgi.lifespan_started


def test_without_lifespan_the_proxy_starts_on_the_first_request(
    serve: Callable[..., LiveServer],
) -> None:
    events: list[str] = []
    proxy = Proxy(make_config("tests.proxy.sides:legacy_asgi", "tests.proxy.sides:new_asgi", []))

    async def up() -> None:
        events.append("up")

    proxy.on_startup.append(up)
    live = serve(proxy, lifespan="off")
    assert events == []
    import httpx

    with httpx.Client(base_url=live.url, timeout=30) as c:
        assert c.get("/echo/1").status_code == 200
        assert c.get("/echo/2").status_code == 200
    assert events == ["up"]  # once


def test_a_failing_startup_hook_fails_the_lifespan_startup() -> None:
    proxy = Proxy(make_config("tests.proxy.sides:legacy_asgi", "tests.proxy.sides:new_asgi", []))

    async def broken() -> None:
        raise RuntimeError("store unreachable")

    proxy.on_startup.append(broken)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    asyncio.run(proxy({"type": "lifespan"}, receive, send))  # type: ignore[arg-type]
    assert sent == [{"type": "lifespan.startup.failed", "message": "store unreachable"}]
