"""When the HTTP client reuses a kept-alive connection, and when it sends a request again.

The rules are plain functions (:mod:`strangler.backends._reuse`); the client follows them
against scripted upstreams on 127.0.0.1 that say "close", speak HTTP/1.0, bound their
keep-alive, or hang up on a reused connection.
"""

from __future__ import annotations

import asyncio

import pytest

from strangler._errors import UpstreamError
from strangler.backends import HTTPBackend, UpstreamRequest
from strangler.backends._reuse import KEEPALIVE, idle_limit, may_resend
from tests.backends.test_http_client import FAST, Upstream, answer_each, get, with_upstream

ANSWERS = {
    # answer -> whether its connection may carry the next request
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok": True,
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok": False,
    b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 2\r\n\r\nok": False,
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok": False,
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok": True,
    b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 2\r\n\r\nok": True,
    b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok": False,
    b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=0\r\nContent-Length: 2\r\n\r\nok": False,
    b"HTTP/1.1 200 OK\r\nKeep-Alive: max=0\r\nContent-Length: 2\r\n\r\nok": False,
    b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=soon\r\nContent-Length: 2\r\n\r\nok": True,
    b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 4\r\n\r\noops": False,
}


@pytest.mark.parametrize(("answer", "reused"), ANSWERS.items(), ids=range(len(ANSWERS)))
def test_the_answer_decides_whether_its_connection_is_reused(answer: bytes, reused: bool) -> None:
    statuses: list[int] = []

    async def go(backend: HTTPBackend, up: Upstream) -> None:
        for _ in range(2):
            statuses.append((await get(backend))[0])

    # Each connection answers two requests if asked: a second connection means no reuse.
    up = asyncio.run(with_upstream(answer_each(answer, answer), go))
    assert statuses == [int(answer.split(b" ")[1])] * 2
    assert up.connections == (1 if reused else 2)


@pytest.mark.parametrize(
    ("header", "limit"),
    [
        (b"timeout=5", 4.0),
        (b"timeout=5, max=100", 4.0),
        (b"max=100, timeout=120", KEEPALIVE),
        (b'timeout="3"', 2.0),
        (b"TIMEOUT=3", 2.0),
        (b"timeout=0", 0.0),
        (b"max=0", 0.0),
        (b"timeout=", KEEPALIVE),
        (b"timeout=-4", 0.0),
        (b"", KEEPALIVE),
    ],
)
def test_keep_alive_header_bounds_the_idle_time(header: bytes, limit: float) -> None:
    assert idle_limit([(b"keep-alive", header)], True) == limit
    assert idle_limit([(b"keep-alive", header)], False) == 0.0


@pytest.mark.parametrize(
    ("method", "headers", "resent"),
    [
        ("GET", [], True),
        ("HEAD", [], True),
        ("OPTIONS", [], True),
        ("PUT", [], True),
        ("DELETE", [], True),
        ("POST", [], False),
        ("PATCH", [], False),
        ("POST", [(b"idempotency-key", b"k-1")], True),
        ("PATCH", [(b"x-idempotency-key", b"k-2")], True),
    ],
)
def test_a_request_read_by_a_closing_connection_is_resent_only_when_harmless(
    method: str, headers: list[tuple[bytes, bytes]], resent: bool
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: Upstream) -> None:
        await up.read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await w.drain()
        await up.read_request(r)  # the next request on this connection: hang up instead

    outcome: list[object] = []

    async def go(backend: HTTPBackend, up: Upstream) -> None:
        outcome.append(await get(backend))
        request = UpstreamRequest(method, "/again", headers, b"{}")
        try:
            resp = await backend.send(request, timeouts=FAST, route="r")
            outcome.append((resp.status, await resp.read()))
        except UpstreamError as exc:
            outcome.append(exc)

    up = asyncio.run(with_upstream(script, go))
    assert outcome[0] == (200, b"ok")
    if resent:
        assert outcome[1] == (200, b"" if method == "HEAD" else b"ok")
        assert [r.split(b" ")[0].decode() for r in up.requests] == ["GET", method, method]
        assert up.connections == 2
    else:
        error = outcome[1]
        assert isinstance(error, UpstreamError)
        assert error.request_sent  # nor may the proxy replay it on legacy
        assert "closed before an answer" in str(error)
        assert len(up.requests) == 2
    assert may_resend(method, headers, whole_body=True) is resent
    assert may_resend(method, headers, whole_body=False) is False


def test_a_connection_the_upstream_closed_while_idle_is_not_used_even_for_a_post() -> None:
    closed = asyncio.Event()

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: Upstream) -> None:
        await up.read_request(r)
        w.write(b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\noops")  # no Connection: close
        await w.drain()
        w.close()
        await w.wait_closed()
        closed.set()

    outcome: list[tuple[int, bytes]] = []

    async def go(backend: HTTPBackend, up: Upstream) -> None:
        for _ in range(3):
            outcome.append(await get(backend, "POST"))
            await closed.wait()  # the close is on its way; the client has not read it yet
            closed.clear()

    up = asyncio.run(with_upstream(script, go))
    assert outcome == [(500, b"oops")] * 3
    assert up.connections == 3
