"""WebSocket sessions through a real proxy on uvicorn, to real Starlette apps on uvicorn."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from strangler._types import Message
from strangler.proxy import SERVER_SETTINGS, Proxy
from strangler.proxy._websocket import to_backend_close, to_client_close, websocket_url
from strangler.routing import RouteTable
from strangler.store import RouteState
from tests.conftest import LiveServer
from tests.proxy.conftest import TOKEN, make_config
from tests.proxy.ws_sides import WsSide, inprocess_legacy

WAIT = 30.0  # seconds: generous, for a loaded 2-core machine


@dataclass
class WsProxied:
    """A proxy served by uvicorn in front of two WebSocket sides."""

    url: str  # ws://127.0.0.1:PORT
    proxy: Proxy
    legacy: WsSide
    new: WsSide

    @contextmanager
    def open(self, path: str, **kwargs: Any) -> Iterator[ClientConnection]:
        with connect(
            self.url + path, open_timeout=WAIT, close_timeout=WAIT, proxy=None, **kwargs
        ) as ws:
            yield ws

    def refused(self, path: str, **kwargs: Any) -> InvalidStatus:
        with pytest.raises(InvalidStatus) as info, self.open(path, **kwargs):
            pass
        return info.value

    def metric(self, name: str, **labels: str) -> float:
        return self.proxy.metrics.value(name, **labels)


@pytest.fixture
def ws_proxied(serve: Callable[..., LiveServer]) -> Callable[..., WsProxied]:
    """``ws_proxied(routes, legacy=URL, new=URL, **config)`` -> a served Proxy."""
    legacy, new = WsSide("legacy"), WsSide("new")
    legacy_srv, new_srv = serve(legacy.app), serve(new.app)

    def _make(
        routes: list[dict[str, Any]] | None = None,
        *,
        legacy_target: str | None = None,
        new_target: str | None = None,
        **extra: Any,
    ) -> WsProxied:
        cfg = make_config(
            legacy_target or legacy_srv.url, new_target or new_srv.url, routes or [], **extra
        )
        proxy = Proxy(cfg)
        server = serve(proxy, **SERVER_SETTINGS)
        return WsProxied(server.url.replace("http://", "ws://"), proxy, legacy, new)

    return _make


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def side_of(ws: ClientConnection) -> str:
    ws.send("who")
    reply = ws.recv(timeout=WAIT)
    assert isinstance(reply, str)
    return reply.removesuffix(":who")


# -- echo, subprotocols, headers ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "new"])
def test_echo_text_and_binary_through_the_mode_side(
    ws_proxied: Callable[..., WsProxied], mode: str
) -> None:
    p = ws_proxied([{"route": "GET /ws/echo", "mode": mode}])
    with p.open("/ws/echo") as ws:
        ws.send("hello")
        assert ws.recv(timeout=WAIT) == f"{mode}:hello"
        ws.send(b"\x00\xffbin")
        assert ws.recv(timeout=WAIT) == mode.encode() + b":\x00\xffbin"
        ws.send("é ✓")
        assert ws.recv(timeout=WAIT) == f"{mode}:é ✓"
    other = p.new if mode == "legacy" else p.legacy
    assert other.sessions == []
    labels = {"route": "GET /ws/echo", "mode": mode, "side": mode}
    assert p.metric("strangler_websocket_sessions_total", outcome="accepted", **labels) == 1
    assert p.metric("strangler_requests_total", status="1xx", **labels) == 1


def test_subprotocol_negotiated_by_the_backend(ws_proxied: Callable[..., WsProxied]) -> None:
    p = ws_proxied([{"route": "GET /ws/echo", "mode": "new"}])
    with p.open("/ws/echo", subprotocols=["chat.v1", "chat.v2"]) as ws:
        assert ws.subprotocol == "chat.v2"  # the backend's preference, not the client's order
        assert side_of(ws) == "new"
    assert p.new.sessions[-1].subprotocols == ["chat.v1", "chat.v2"]
    with p.open("/ws/echo", subprotocols=["mqtt"]) as ws:
        assert ws.subprotocol is None  # the backend chose none: the client gets none
        assert side_of(ws) == "new"


def test_handshake_headers_follow_the_header_policy(ws_proxied: Callable[..., WsProxied]) -> None:
    p = ws_proxied([{"route": "GET /ws/echo", "mode": "legacy"}])
    sent = {
        "Cookie": "session=u-1",
        "Authorization": "Bearer abc",
        "Origin": "https://shop.example",
        "User-Agent": "payment-dashboard/2.1",
        "X-Forwarded-For": "6.6.6.6",  # from an untrusted client: replaced
        "Proxy-Authorization": "Basic cHJveHk=",  # hop-by-hop: never forwarded
        "X-Strangler-Token": TOKEN,  # a control header: never forwarded
    }
    with p.open("/ws/echo", additional_headers=sent, user_agent_header=None) as ws:
        assert side_of(ws) == "legacy"
        assert ws.response is not None
        assert ws.response.headers.get_all("set-cookie") == ["ws=1"]  # the backend's answer
    seen = p.legacy.sessions[-1]
    assert seen.header("cookie") == ["session=u-1"]
    assert seen.header("authorization") == ["Bearer abc"]
    assert seen.header("origin") == ["https://shop.example"]
    assert seen.header("user-agent") == ["payment-dashboard/2.1"]
    assert seen.header("x-forwarded-for") == ["127.0.0.1"]
    assert seen.header("x-forwarded-proto") == ["http"]
    assert seen.header("x-forwarded-host") == [p.url.removeprefix("ws://")]
    assert seen.header("proxy-authorization") == []
    assert seen.header("x-strangler-token") == []


def test_backend_refusal_reaches_the_client(ws_proxied: Callable[..., WsProxied]) -> None:
    p = ws_proxied([{"route": "GET /ws/private", "mode": "new"}])
    err = p.refused("/ws/private")
    assert err.response.status_code == 401
    assert err.response.body == b"login first"
    with p.open("/ws/private", additional_headers={"Authorization": "Bearer t"}) as ws:
        assert side_of(ws) == "new"
    labels = {"route": "GET /ws/private", "mode": "new", "side": "new"}
    assert p.metric("strangler_websocket_sessions_total", outcome="refused", **labels) == 1
    assert p.metric("strangler_websocket_sessions_total", outcome="accepted", **labels) == 1


def test_a_refusal_redirecting_to_the_backend_points_at_the_proxy(
    ws_proxied: Callable[..., WsProxied],
) -> None:
    p = ws_proxied([{"route": "GET /ws/moved", "mode": "new"}])
    proxy_http = p.url.replace("ws://", "http://")
    handshake = {  # by hand: a WebSocket client would follow the redirect itself
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    answer = httpx.get(f"{proxy_http}/ws/moved", headers=handshake, timeout=WAIT)
    assert answer.status_code == 307  # the backend's refusal, not a 502
    assert answer.headers["location"] == f"{proxy_http}/ws/echo"


# -- close codes -----------------------------------------------------------------------------


def test_backend_close_code_and_reason_reach_the_client(
    ws_proxied: Callable[..., WsProxied],
) -> None:
    p = ws_proxied([{"route": "GET /ws/echo", "mode": "legacy"}])
    with p.open("/ws/echo") as ws:
        ws.send("close:4001:payment settled")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=WAIT)
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "payment settled")


def test_client_close_code_and_reason_reach_the_backend(
    ws_proxied: Callable[..., WsProxied],
) -> None:
    p = ws_proxied([{"route": "GET /ws/echo", "mode": "new"}])
    with p.open("/ws/echo") as ws:
        assert side_of(ws) == "new"
        ws.close(4002, "tab closed")
    wait_for(lambda: bool(p.new.client_closes), "the backend to see the close")
    assert p.new.client_closes == [(4002, "tab closed")]
    labels = {"route": "GET /ws/echo", "side": "new"}
    wait_for(lambda: p.metric("strangler_websocket_open", **labels) == 0, "the session to end")


def test_open_sessions_are_counted_while_open(ws_proxied: Callable[..., WsProxied]) -> None:
    p = ws_proxied([{"route": "GET /ws/echo", "mode": "legacy"}])
    labels = {"route": "GET /ws/echo", "side": "legacy"}
    with p.open("/ws/echo") as a, p.open("/ws/echo") as b:
        assert side_of(a) == side_of(b) == "legacy"
        assert p.metric("strangler_websocket_open", **labels) == 2
    wait_for(lambda: p.metric("strangler_websocket_open", **labels) == 0, "both sessions to end")


# -- routing ---------------------------------------------------------------------------------


def test_unmatched_paths_go_to_legacy(ws_proxied: Callable[..., WsProxied]) -> None:
    p = ws_proxied([{"route": "GET /ws/status/{id}", "mode": "new"}])
    with p.open("/ws/status/7") as ws:
        assert side_of(ws) == "new"
    with p.open("/ws/echo") as ws:
        assert side_of(ws) == "legacy"  # no route: the catch-all
    with p.open("/ws/status/7/more") as ws:
        assert side_of(ws) == "legacy"
    assert [s.path for s in p.new.sessions] == ["/ws/status/7"]


def test_a_flip_moves_new_sessions_and_keeps_open_ones(
    ws_proxied: Callable[..., WsProxied],
) -> None:
    p = ws_proxied([{"route": "GET /ws/status/{id}", "mode": "legacy"}])
    with p.open("/ws/status/1") as before:
        assert side_of(before) == "legacy"
        state = RouteState("GET /ws/status/{id}", "new", None, False, datetime.now(UTC), 1)
        table = RouteTable.build(p.proxy.config, {state.route: state}, version=2)
        p.proxy.swap_table(table)
        with p.open("/ws/status/2") as after:
            assert side_of(after) == "new"
        assert side_of(before) == "legacy"  # an open session stays where it started


def test_canary_is_sticky_by_header(ws_proxied: Callable[..., WsProxied]) -> None:
    p = ws_proxied(
        [{"route": "GET /ws/echo", "mode": "canary", "percent": 50, "sticky": "header:X-User"}]
    )
    seen: dict[str, str] = {}
    for i in range(16):
        with p.open("/ws/echo", additional_headers={"X-User": f"u{i}"}) as ws:
            seen[f"u{i}"] = side_of(ws)
    for user, side in seen.items():  # again: each user lands where it landed before
        with p.open("/ws/echo", additional_headers={"X-User": user}) as ws:
            assert side_of(ws) == side
    assert set(seen.values()) == {"legacy", "new"}


def test_canary_falls_back_to_legacy_when_new_is_down(
    ws_proxied: Callable[..., WsProxied], dead_url: str
) -> None:
    p = ws_proxied(
        [{"route": "GET /ws/echo", "mode": "canary", "percent": 100}], new_target=dead_url
    )
    with p.open("/ws/echo") as ws:
        assert side_of(ws) == "legacy"
    reason = "upstream_connect_error"
    assert p.metric("strangler_fallbacks_total", route="GET /ws/echo", reason=reason) == 1


def test_shadow_mode_serves_from_legacy_only_and_counts_it_not_compared(
    ws_proxied: Callable[..., WsProxied],
) -> None:
    p = ws_proxied([{"route": "GET /ws/echo", "mode": "shadow"}])
    with p.open("/ws/echo") as ws:
        assert side_of(ws) == "legacy"
    assert p.new.sessions == []
    assert p.metric("strangler_shadow_dropped_total", route="GET /ws/echo", reason="websocket") == 1


def test_retired_is_served_by_new_and_never_by_legacy(
    ws_proxied: Callable[..., WsProxied],
) -> None:
    p = ws_proxied([{"route": "GET /ws/echo", "mode": "retired"}])
    with p.open("/ws/echo") as ws:
        assert side_of(ws) == "new"
    force = {"X-Strangler-Side": "legacy", "X-Strangler-Token": TOKEN}
    with p.open("/ws/echo", additional_headers=force) as ws:
        assert side_of(ws) == "new"  # a retired route cannot be forced back to legacy
    assert p.legacy.sessions == []


def test_retired_with_new_down_is_refused_without_calling_legacy(
    ws_proxied: Callable[..., WsProxied], dead_url: str
) -> None:
    p = ws_proxied([{"route": "GET /ws/echo", "mode": "retired"}], new_target=dead_url)
    err = p.refused("/ws/echo")
    assert err.response.status_code == 502
    assert p.legacy.sessions == []


def test_the_admin_token_forces_a_side(ws_proxied: Callable[..., WsProxied]) -> None:
    p = ws_proxied([{"route": "GET /ws/echo", "mode": "legacy"}])
    force = {"X-Strangler-Side": "new", "X-Strangler-Token": TOKEN}
    with p.open("/ws/echo", additional_headers=force) as ws:
        assert side_of(ws) == "new"
    with p.open("/ws/echo", additional_headers={**force, "X-Strangler-Token": "wrong"}) as ws:
        assert side_of(ws) == "legacy"


# -- failures --------------------------------------------------------------------------------


def test_backend_down_refuses_the_handshake_naming_the_backend(
    ws_proxied: Callable[..., WsProxied], dead_url: str
) -> None:
    p = ws_proxied([{"route": "GET /ws/echo", "mode": "legacy"}], legacy_target=dead_url)
    err = p.refused("/ws/echo")
    assert err.response.status_code == 502
    assert json.loads(err.response.body) == {
        "error": "upstream_connect_error",
        "backend": "legacy",
        "route": "GET /ws/echo",
    }
    labels = {"route": "GET /ws/echo", "backend": "legacy", "kind": "upstream_connect_error"}
    assert p.metric("strangler_upstream_errors_total", **labels) == 1
    session = {"route": "GET /ws/echo", "mode": "legacy", "side": "legacy", "outcome": "error"}
    assert p.metric("strangler_websocket_sessions_total", **session) == 1


def test_without_the_response_extension_a_refusal_is_a_close_before_accept(
    dead_url: str,
) -> None:
    """A server without ``websocket.http.response`` turns this close into a 403."""
    proxy = Proxy(make_config(dead_url, dead_url, []))
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/ws/echo",
        "raw_path": b"/ws/echo",
        "query_string": b"",
        "headers": [(b"host", b"shop.test")],
        "client": ("127.0.0.1", 50000),
        "subprotocols": [],
    }
    messages = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(dict(message))

    async def run() -> None:
        await proxy(scope, receive, send)
        await proxy.aclose()

    asyncio.run(run())
    assert [m["type"] for m in sent] == ["websocket.close"]


# -- in-process backends ---------------------------------------------------------------------


def test_in_process_asgi_app_serves_the_session(
    ws_proxied: Callable[..., WsProxied],
) -> None:
    p = ws_proxied([], legacy_target="tests.proxy.ws_sides:inprocess_legacy_app")
    before = len(inprocess_legacy.sessions)
    with p.open("/ws/echo", subprotocols=["chat.v1"]) as ws:
        assert ws.subprotocol == "chat.v1"
        assert side_of(ws) == "legacy-inprocess"
        ws.send(b"\x01")
        assert ws.recv(timeout=WAIT) == b"legacy-inprocess:\x01"
        ws.close(4003, "done here")
    wait_for(lambda: len(inprocess_legacy.client_closes) > 0, "the app to see the close")
    assert inprocess_legacy.client_closes[-1] == (4003, "done here")
    session = inprocess_legacy.sessions[before]
    assert session.header("x-forwarded-for") == ["127.0.0.1"]
    labels = {"route": "* /{path:path}", "mode": "legacy", "side": "legacy"}
    assert p.metric("strangler_websocket_sessions_total", outcome="accepted", **labels) == 1
    open_labels = {"route": "* /{path:path}", "side": "legacy"}
    wait_for(lambda: p.metric("strangler_websocket_open", **open_labels) == 0, "the end")


def test_a_wsgi_app_refuses_with_a_clear_reason(ws_proxied: Callable[..., WsProxied]) -> None:
    p = ws_proxied(
        [{"route": "GET /ws/echo", "mode": "new"}], new_target="tests.proxy.sides:legacy_wsgi"
    )
    err = p.refused("/ws/echo")
    assert err.response.status_code == 501
    assert json.loads(err.response.body)["error"] == "websocket_unsupported"
    with p.open("/ws/other") as ws:  # the legacy side, a URL, still serves WebSockets
        assert side_of(ws) == "legacy"


# -- pure parts ------------------------------------------------------------------------------


def test_websocket_url_keeps_prefix_and_secures_https() -> None:
    assert websocket_url("https://pay.internal:8443/api/", "/ws/s?x=1") == (
        "wss://pay.internal:8443/api/ws/s?x=1"
    )
    assert websocket_url("http://127.0.0.1:8001", "/ws") == "ws://127.0.0.1:8001/ws"


def test_close_codes_that_cannot_be_sent_are_translated() -> None:
    assert [to_backend_close(c) for c in (1000, 4002, 1005, 1006, None)] == [
        1000,
        4002,
        1000,
        1001,
        1000,
    ]
    assert [to_client_close(c) for c in (1001, 4001, 1005, 1006, None)] == [
        1001,
        4001,
        1000,
        1014,
        1014,
    ]
