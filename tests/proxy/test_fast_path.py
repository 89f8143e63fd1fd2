"""The fast path of ``strangler serve`` answers exactly as the ASGI path does.

One raw HTTP/1.1 upstream (it writes its answers byte by byte as told, so framing is under
the test's control) sits behind two proxies served by uvicorn with the server settings of
``strangler serve``: one with the fast path, one with ``proxy.fast_path: false``. Each
request of the corpus goes to both over a raw socket; the two answers must be the same
bytes (a chunked body is compared once decoded: where the chunks are cut depends on when
bytes arrive, not on the path). The fast proxy must really have relayed them.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from strangler.proxy import SERVER_SETTINGS, Proxy
from tests.conftest import LiveServer
from tests.proxy.conftest import make_config

BIG = bytes(range(256)) * 4096  # 1 MiB


def _answer(path: bytes, body: bytes, method: bytes) -> list[bytes]:
    """The raw pieces the upstream writes for ``path`` (each piece one write)."""
    json = b"content-type: application/json\r\n"
    if path.startswith(b"/plain"):
        payload = b'{"id": 1, "name": "acme"}'
        return [
            b"HTTP/1.1 200 OK\r\n" + json + b"content-length: %d\r\n\r\n" % len(payload) + payload
        ]
    if path.startswith(b"/chunked"):
        return [
            b"HTTP/1.1 200 OK\r\n" + json + b"transfer-encoding: chunked\r\n\r\n",
            b"5\r\nhello\r\n",
            b"6\r\n world\r\n0\r\n\r\n",
        ]
    if path.startswith(b"/close"):
        return [b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end", b""]
    if path.startswith(b"/nocontent"):
        return [b"HTTP/1.1 204 No Content\r\nx-trace: 7\r\n\r\n"]
    if path.startswith(b"/notmodified"):
        return [b'HTTP/1.1 304 Not Modified\r\netag: "v1"\r\ncontent-length: 12\r\n\r\n']
    if path.startswith(b"/big"):
        return [b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(BIG), BIG]
    if path.startswith(b"/cookies"):
        return [
            b"HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Multi: one\r\n"
            b"X-Multi: two\r\nKeep-Alive: timeout=5\r\nLocation: /orgs/1\r\ncontent-length: 0\r\n\r\n"
        ]
    if path.startswith(b"/echo"):
        return [b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body]
    if path.startswith(b"/error"):
        return [b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\ndown"]
    if path.startswith(b"/slow"):
        return [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n", b"WAIT", b"late"]
    return [b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"]


class RawUpstream:
    """An HTTP/1.1 server on 127.0.0.1 that writes canned answers in the pieces given."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.closed_early = 0  # connections the proxy dropped while an answer was pending
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.server = server
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target = head.split(b" ", 2)[:2]
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                pieces = _answer(target, body, method)
                if method == b"HEAD":
                    pieces = [pieces[0].split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"]
                for piece in pieces:
                    if piece == b"WAIT":
                        await asyncio.sleep(0.5)
                        continue
                    if piece == b"":
                        writer.close()
                        return
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.01)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed_early += 1
        finally:
            writer.close()

    def stop(self) -> None:
        # The loop runs on in its daemon thread: its connections end with the proxies.
        self.loop.call_soon_threadsafe(self.server.close)


def _exchange(port: int, raw: bytes, *, answers: int = 1) -> bytes:
    """Send ``raw`` (ending in a request with ``Connection: close``) and read to the end."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        data = bytearray()
        while chunk := sock.recv(65536):
            data += chunk
        return bytes(data)


def _dechunk(body: bytes) -> bytes:
    out, rest = bytearray(), body
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return bytes(out)
        out += rest[:size]
        rest = rest[size + 2 :]


def _normal(raw: bytes) -> list[tuple[bytes, bytes]]:
    """Each answer as (head, body); a chunked body decoded (its cuts are timing)."""
    answers = []
    while raw:
        head, rest = raw.split(b"\r\n\r\n", 1)
        lower = head.lower()
        no_body = b" 204 " in head.split(b"\r\n")[0] or b" 304 " in head.split(b"\r\n")[0]
        if b"transfer-encoding: chunked" in lower:
            end = rest.index(b"0\r\n\r\n") + 5
            body, raw = _dechunk(rest[:end]), rest[end:]
        elif b"content-length:" in lower and not no_body:
            n = int(lower.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            body, raw = rest[:n], rest[n:]
        elif no_body:
            body, raw = b"", rest
        else:
            body, raw = rest, b""
        answers.append((head, body))
    return answers


def _request(method: str, path: str, *, body: bytes = b"", close: bool = True) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: shop.example", "Accept: */*", "X-Trace: t1"]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


CORPUS: list[tuple[str, bytes]] = [
    ("plain", _request("GET", "/plain/1")),
    ("query and encoded path", _request("GET", "/plain/a%20b?page=2&q=x")),
    ("chunked upstream", _request("GET", "/chunked/1")),
    ("close-delimited upstream", _request("GET", "/close/1")),
    ("204", _request("GET", "/nocontent/1")),
    ("304", _request("GET", "/notmodified/1")),
    ("HEAD", _request("HEAD", "/plain/1")),
    ("HEAD of a chunked answer", _request("HEAD", "/chunked/1")),
    ("1 MiB body", _request("GET", "/big/1")),
    ("repeated headers, hop-by-hop", _request("GET", "/cookies/1")),
    ("POST body", _request("POST", "/echo/1", body=b'{"amount": 10}')),
    ("PUT empty body", _request("PUT", "/echo/2")),
    ("upstream 503", _request("GET", "/error/1")),
    ("unknown path", _request("GET", "/nowhere")),
    (
        "keep-alive then close",
        _request("GET", "/plain/2", close=False) + _request("GET", "/chunked/2"),
    ),
    (
        "pipelined three",
        _request("GET", "/plain/3", close=False)
        + _request("POST", "/echo/3", body=b"x" * 100, close=False)
        + _request("GET", "/cookies/3"),
    ),
    ("slow body", _request("GET", "/slow/1")),
]


@pytest.fixture
def upstream() -> Iterator[RawUpstream]:
    up = RawUpstream()
    yield up
    up.stop()


@pytest.fixture
def two_proxies(
    serve: Callable[..., LiveServer], upstream: RawUpstream
) -> dict[str, tuple[Proxy, LiveServer]]:
    url = f"http://127.0.0.1:{upstream.port}"
    routes: list[dict[str, Any]] = [
        {"route": "GET /plain/{id}", "mode": "legacy"},
        {"route": "GET /chunked/{id}", "mode": "new"},
        {"route": "POST /echo/{id}", "mode": "legacy"},
    ]
    out = {}
    for name, fast in (("fast", True), ("asgi", False)):
        proxy = Proxy(make_config(url, url, routes, proxy={"fast_path": fast}))
        out[name] = (proxy, serve(proxy, **SERVER_SETTINGS))
    return out


def _warm(port: int) -> None:
    """Open pooled connections to the upstream (the fast path only uses idle ones)."""
    warm = _request("GET", "/plain/0", close=False) + _request("GET", "/chunked/0", close=False)
    raw = warm * 3 + _request("GET", "/plain/0")
    _exchange(port, raw)


def test_fast_and_asgi_paths_answer_the_same_bytes(
    two_proxies: dict[str, tuple[Proxy, LiveServer]],
) -> None:
    fast_proxy, fast_srv = two_proxies["fast"]
    asgi_proxy, asgi_srv = two_proxies["asgi"]
    assert fast_proxy.fast_path is not None
    assert asgi_proxy.fast_path is None
    for name, raw in CORPUS:
        _warm(fast_srv.port)
        _warm(asgi_srv.port)
        before = fast_proxy.fast_path.relayed
        fast = _exchange(fast_srv.port, raw)
        asgi = _exchange(asgi_srv.port, raw)
        assert fast_proxy.fast_path.relayed > before, f"{name}: not relayed by the fast path"
        assert _normal(fast) == _normal(asgi), name
        if b"chunked" not in asgi:
            assert fast == asgi, name  # with fixed framing, the very same bytes
    # Both count every answer the same way.
    fast_counts = fast_proxy.metrics.registry.get_sample_value
    asgi_counts = asgi_proxy.metrics.registry.get_sample_value
    for route in ("GET /plain/{id}", "GET /chunked/{id}", "POST /echo/{id}"):
        labels = {"route": route, "mode": "legacy" if "chunked" not in route else "new"}
        labels.update(side=labels["mode"], status="2xx")
        assert fast_counts("strangler_requests_total", labels) == asgi_counts(
            "strangler_requests_total", labels
        ), route


def test_large_or_streamed_request_bodies_take_the_asgi_path(
    two_proxies: dict[str, tuple[Proxy, LiveServer]],
) -> None:
    fast_proxy, fast_srv = two_proxies["fast"]
    _warm(fast_srv.port)
    assert fast_proxy.fast_path is not None
    before = fast_proxy.fast_path.relayed
    body = b"y" * (200 * 1024)
    answer = _exchange(fast_srv.port, _request("POST", "/echo/9", body=body))
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert answer.endswith(body)
    chunked = (
        b"POST /echo/9 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close"
        b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    answer = _exchange(fast_srv.port, chunked)
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert answer.endswith(b"abc")
    assert fast_proxy.fast_path.relayed == before  # both went the ASGI way, and worked


def test_a_client_that_leaves_mid_answer(
    two_proxies: dict[str, tuple[Proxy, LiveServer]], upstream: RawUpstream
) -> None:
    for name in ("fast", "asgi"):
        _proxy, srv = two_proxies[name]
        _warm(srv.port)
        dropped = upstream.closed_early
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(_request("GET", "/slow/2", close=False))
            time.sleep(0.2)  # the head is on its way, the body is late
        if name == "fast":
            # Dropped, never put back in the pool half read (the ASGI path reads the
            # answer to its end and may reuse the connection: both are safe).
            deadline = time.monotonic() + 5
            while upstream.closed_early == dropped and time.monotonic() < deadline:
                time.sleep(0.05)
            assert upstream.closed_early > dropped
        # The proxy serves on.
        assert _normal(_exchange(srv.port, _request("GET", "/plain/5")))[0][1].startswith(b"{")


def _read_answer(sock: socket.socket) -> bytes:
    """One answer with a Content-Length from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "asgi path"])
def test_idle_client_connections_close_after_the_keep_alive_timeout(
    serve: Callable[..., LiveServer], upstream: RawUpstream, fast: bool
) -> None:
    """The fast path ends each answer as uvicorn does (its keep-alive timer armed again): a
    connection busy for longer than the timeout stays open, an idle one is closed."""
    url = f"http://127.0.0.1:{upstream.port}"
    proxy = Proxy(make_config(url, url, [], proxy={"fast_path": fast}))
    srv = serve(proxy, **{**SERVER_SETTINGS, "timeout_keep_alive": 1})
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        started = time.monotonic()
        while True:  # 2.5 timeouts long, never idle for one
            sock.sendall(_request("GET", "/plain/7", close=False))
            assert _read_answer(sock).startswith(b"HTTP/1.1 200 OK")
            answered = time.monotonic()
            if answered - started > 2.5:
                break
            time.sleep(0.3)
        assert sock.recv(1) == b""  # closed by the proxy, after the timeout
        idle = time.monotonic() - answered
    assert 0.5 <= idle < 3.0, idle  # about the 1 s timeout (the client reads a little late)


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "asgi path"])
def test_a_body_over_the_proxys_cap_is_refused_on_both_paths(
    serve: Callable[..., LiveServer], upstream: RawUpstream, fast: bool
) -> None:
    """``proxy.max_body`` below the fast path's own 64 KiB: the cap still holds."""
    url = f"http://127.0.0.1:{upstream.port}"
    routes: list[dict[str, Any]] = [{"route": "POST /echo/{id}", "mode": "legacy"}]
    proxy = Proxy(make_config(url, url, routes, proxy={"fast_path": fast, "max_body": 1000}))
    srv = serve(proxy, **SERVER_SETTINGS)
    _warm(srv.port)
    answer = _exchange(srv.port, _request("POST", "/echo/1", body=b"z" * 2000))
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"z" * 10 not in answer  # nothing of it reached the upstream's echo
    answer = _exchange(srv.port, _request("POST", "/echo/1", body=b"z" * 1000))
    assert answer.startswith(b"HTTP/1.1 200 OK")


def test_a_shadowed_request_hands_the_same_exchange_to_the_shadow_side(
    serve: Callable[..., LiveServer], upstream: RawUpstream
) -> None:
    """Shadowed routes take the fast path for the client's answer too: the exchange the
    shadow runner gets (request as forwarded, the answer's status, headers and body, over
    the body cap without its body) is the one the ASGI path hands over."""
    url = f"http://127.0.0.1:{upstream.port}"
    routes: list[dict[str, Any]] = [
        {"route": "GET /plain/{id}", "mode": "shadow"},
        {"route": "GET /chunked/{id}", "mode": "shadow"},
        {"route": "GET /big/{id}", "mode": "shadow", "shadow": {"body_cap": 4096}},
        {"route": "POST /echo/{id}", "mode": "shadow"},
    ]
    requests = [
        _request("GET", "/plain/1?page=2"),
        _request("GET", "/chunked/1"),
        _request("GET", "/big/1"),
        _request("HEAD", "/plain/2"),
        _request("POST", "/echo/1", body=b'{"amount": 10}'),
    ]
    seen: dict[str, list[tuple[Any, str]]] = {}
    for name, fast in (("fast", True), ("asgi", False)):
        proxy = Proxy(make_config(url, url, routes, proxy={"fast_path": fast}))
        got: list[tuple[Any, str]] = []
        proxy.shadow_sink = lambda exchange, side, got=got: got.append((exchange, side))
        srv = serve(proxy, **SERVER_SETTINGS)
        for raw in requests:
            _warm(srv.port)
            relayed = proxy.fast_path.relayed if proxy.fast_path is not None else 0
            _exchange(srv.port, raw)
            if fast:
                assert proxy.fast_path is not None
                assert proxy.fast_path.relayed == relayed + 1, raw
        # the warm-up requests are shadowed too: keep the corpus' own exchanges
        seen[name] = [(e, s) for e, s in got if not e.request.path.endswith("/0")]
    assert len(seen["fast"]) == len(requests)
    for (fast_ex, fast_side), (asgi_ex, asgi_side) in zip(seen["fast"], seen["asgi"], strict=True):
        assert fast_side == asgi_side == "new"
        assert fast_ex.request == asgi_ex.request
        assert fast_ex.primary_side == asgi_ex.primary_side == "legacy"
        fast_r, asgi_r = fast_ex.primary, asgi_ex.primary
        assert (fast_r.status, fast_r.headers, fast_r.body) == (
            asgi_r.status,
            asgi_r.headers,
            asgi_r.body,
        ), fast_ex.request.path
    by_path = {e.request.path: e for e, _ in seen["fast"]}
    assert by_path["/big/1"].primary.body is None  # over its 4 KiB cap
    assert by_path["/chunked/1"].primary.body == b"hello world"
    assert by_path["/echo/1"].request.body == b'{"amount": 10}'
