"""The proxy's uvicorn protocol: a held response head never delays what a client waits for."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

from strangler.proxy import SERVER_SETTINGS
from tests.conftest import LiveServer


def _recv_until(sock: socket.socket, marker: bytes, limit: float = 10.0) -> bytes:
    sock.settimeout(limit)
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_head_whose_body_is_late_reaches_the_client_at_once(
    serve: Callable[..., LiveServer],
) -> None:
    release = threading.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.to_thread(release.wait, 10)  # the body comes after the client saw the head
        await send({"type": "http.response.body", "body": b"late body"})

    live = serve(app, **SERVER_SETTINGS)
    with socket.create_connection(("127.0.0.1", live.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = _recv_until(sock, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        release.set()
        rest = _recv_until(sock, b"0\r\n\r\n")
        assert rest == b"9\r\nlate body\r\n0\r\n\r\n"


def test_expect_100_continue_is_answered_before_the_body_is_sent(
    serve: Callable[..., LiveServer],
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        message = await receive()
        body = message["body"]
        headers = [(b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    live = serve(app, **SERVER_SETTINGS)
    with socket.create_connection(("127.0.0.1", live.port)) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = _recv_until(sock, b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        answer = _recv_until(sock, b"hello")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b"\r\n\r\nhello")
