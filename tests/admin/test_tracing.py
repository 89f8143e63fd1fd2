"""Trace context (W3C ``traceparent`` / ``tracestate``) passes through the proxy both ways."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from strangler.app import create_app
from strangler.config import parse_config
from tests.conftest import LiveServer, free_port

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
STATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"


def _echo(name: str) -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "side": name,
                "traceparent": request.headers.get("traceparent"),
                "tracestate": request.headers.get("tracestate"),
            },
            headers={"traceresponse": PARENT},
        )

    return Starlette(routes=[Route("/t/{x}", echo)])


@pytest.mark.parametrize(("mode", "side"), [("legacy", "legacy"), ("new", "new")])
def test_trace_headers_reach_the_backend_and_come_back(
    serve: Callable[..., LiveServer], tmp_path: Path, mode: str, side: str
) -> None:
    legacy, new = serve(_echo("legacy")), serve(_echo("new"))
    cfg = parse_config(
        {
            "legacy": legacy.url,
            "new": new.url,
            "store": f"sqlite:///{tmp_path / 's.db'}",
            "admin": {"port": free_port()},
            "routes": [{"route": "GET /t/{x}", "mode": mode}],
        }
    )
    proxy = serve(create_app(cfg))
    resp = httpx.get(
        f"{proxy.url}/t/1", headers={"traceparent": PARENT, "tracestate": STATE}, timeout=30
    )
    assert resp.status_code == 200
    assert resp.json() == {"side": side, "traceparent": PARENT, "tracestate": STATE}
    assert resp.headers["traceresponse"] == PARENT
