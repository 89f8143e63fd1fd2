"""strangler's own HTTP/1.1 client against scripted upstreams on 127.0.0.1.

Each upstream is a real socket server answering with exact bytes, so framing (chunked,
length, end of connection, HEAD, 1xx, 204/304), connection reuse and broken connections
are exercised the way a misbehaving legacy service would exercise them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from strangler._errors import UpstreamError, UpstreamTimeout
from strangler.backends import HTTPBackend, UpstreamRequest
from strangler.config import BackendConfig, Timeouts

FAST = Timeouts(connect=2, read=5, total=10)

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Upstream"], Awaitable[None]]


@dataclass
class Upstream:
    """A scripted server: counts connections, records the raw requests it read."""

    script: Script
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.script(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        body = b""
        lower = head.lower()
        if b"content-length:" in lower:
            n = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
            body = await reader.readexactly(n)
        elif b"transfer-encoding: chunked" in lower:
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        self.requests.append(head + body)
        return head + body


async def with_upstream(
    script: Script, body: Callable[[HTTPBackend, Upstream], Awaitable[None]], **config: int
) -> Upstream:
    upstream = Upstream(script)
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    upstream.port = server.sockets[0].getsockname()[1]
    backend = HTTPBackend(
        "legacy", BackendConfig(target=f"http://127.0.0.1:{upstream.port}", **config)
    )
    try:
        await body(backend, upstream)
    finally:
        await backend.aclose()
        server.close()
    return upstream


def answer_each(*answers: bytes) -> Script:
    """Answer the requests of one connection with ``answers`` in turn, keep it open."""

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: Upstream) -> None:
        for answer in answers:
            await up.read_request(r)
            w.write(answer)
            await w.drain()
        await r.read()  # until the client closes

    return script


async def get(backend: HTTPBackend, method: str = "GET", path: str = "/") -> tuple[int, bytes]:
    resp = await backend.send(UpstreamRequest(method, path), timeouts=FAST, route="r")
    return resp.status, await resp.read()


def test_framing_chunked_length_head_204_304_and_interim_answers_on_one_connection() -> None:
    answers = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\n"
        b"Set-Cookie: b=2\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",  # HEAD: a length, no body
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
    ]
    seen: list[tuple[int, bytes, list[tuple[bytes, bytes]]]] = []

    async def go(backend: HTTPBackend, up: Upstream) -> None:
        for method in ("GET", "HEAD", "GET", "GET", "POST"):
            req = UpstreamRequest(method, "/x")
            resp = await backend.send(req, timeouts=FAST, route="r")
            seen.append((resp.status, await resp.read(), resp.headers))

    up = asyncio.run(with_upstream(answer_each(*answers), go))
    assert [(s, b) for s, b, _ in seen] == [
        (200, b"abcde"),
        (200, b""),
        (204, b""),
        (304, b""),
        (201, b"ok"),
    ]
    assert [v for k, v in seen[0][2] if k == b"set-cookie"] == [b"a=1", b"b=2"]
    assert up.connections == 1  # every answer was complete, so the connection was reused
    assert all(b"\r\ncookie:" not in r.lower() for r in up.requests)  # no cookie jar
    assert b"content-length: 0" in up.requests[4]  # a POST says its (empty) body's length


def test_an_answer_ended_by_the_connection_is_read_to_the_end_and_not_reused() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: Upstream) -> None:
        await up.read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the ")
        await w.drain()
        w.write(b"end")
        await w.drain()

    results: list[tuple[int, bytes]] = []

    async def go(backend: HTTPBackend, up: Upstream) -> None:
        results.append(await get(backend))
        results.append(await get(backend))

    up = asyncio.run(with_upstream(script, go))
    assert results == [(200, b"until the end")] * 2
    assert up.connections == 2


def test_a_response_closed_before_its_end_drops_the_connection() -> None:
    big = b"x" * 300_000
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(big), big)

    async def go(backend: HTTPBackend, up: Upstream) -> None:
        resp = await backend.send(UpstreamRequest("GET", "/big"), timeouts=FAST, route="r")
        first = await resp.stream().__anext__()
        assert 0 < len(first) < len(big)
        await resp.aclose()  # the client went away: the rest is never read
        assert await get(backend) == (200, big)

    up = asyncio.run(with_upstream(answer_each(answer, answer), go))
    assert up.connections == 2


def test_the_pool_limit_queues_requests_on_the_open_connections() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    async def go(backend: HTTPBackend, up: Upstream) -> None:
        results = await asyncio.gather(*(get(backend, path=f"/{i}") for i in range(5)))
        assert results == [(200, b"ok")] * 5

    up = asyncio.run(with_upstream(answer_each(*[answer] * 5), go, max_connections=1))
    assert up.connections == 1


def test_large_bodies_stream_both_ways_intact() -> None:
    sent = bytes(range(256)) * 8192  # 2 MiB

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: Upstream) -> None:
        request = await up.read_request(r)
        body = request.split(b"\r\n\r\n", 1)[1]
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), 65536):
            w.write(body[i : i + 65536])
            await w.drain()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(sent), 100_000):
            yield sent[i : i + 100_000]

    async def go(backend: HTTPBackend, up: Upstream) -> None:
        req = UpstreamRequest("PUT", "/echo", [], chunks())
        resp = await backend.send(req, timeouts=FAST, route="r")
        got = bytearray()
        async for chunk in resp.stream():
            got += chunk
            await asyncio.sleep(0)  # a slow client: the client's reading pauses meanwhile
        await resp.aclose()
        assert bytes(got) == sent

    up = asyncio.run(with_upstream(script, go))
    assert b"transfer-encoding: chunked" in up.requests[0].lower()


def test_a_failing_request_body_aborts_the_upstream_connection() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: Upstream) -> None:
        try:
            await up.read_request(r)
        except asyncio.IncompleteReadError:
            up.requests.append(b"incomplete")

    async def chunks() -> AsyncIterator[bytes]:
        yield b"part one"
        raise RuntimeError("the client's body is over the cap")

    async def go(backend: HTTPBackend, up: Upstream) -> None:
        req = UpstreamRequest("POST", "/up", [(b"content-length", b"100")], chunks())
        with pytest.raises(UpstreamError, match="over the cap"):
            await backend.send(req, timeouts=FAST, route="r")
        for _ in range(100):
            if up.requests:
                break
            await asyncio.sleep(0.05)

    up = asyncio.run(with_upstream(script, go))
    assert up.requests == [b"incomplete"]


def test_a_stall_in_the_middle_of_a_body_is_a_read_timeout() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: Upstream) -> None:
        await up.read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await w.drain()
        await asyncio.sleep(5)

    async def go(backend: HTTPBackend, up: Upstream) -> None:
        t = Timeouts(connect=2, read=0.3, total=10)
        resp = await backend.send(UpstreamRequest("GET", "/"), timeouts=t, route="GET /")
        with pytest.raises(UpstreamTimeout) as info:
            await resp.read()
        assert (info.value.status_code, info.value.route) == (504, "GET /")

    asyncio.run(with_upstream(script, go))


def test_garbage_from_the_upstream_is_an_upstream_error() -> None:
    async def go(backend: HTTPBackend, up: Upstream) -> None:
        with pytest.raises(UpstreamError, match="invalid answer"):
            await get(backend)

    asyncio.run(with_upstream(answer_each(b"NOT HTTP AT ALL\r\n\r\n"), go))


def test_a_slow_reader_of_a_whole_answer_is_not_the_upstreams_timeout() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"

    async def go(backend: HTTPBackend, up: Upstream) -> None:
        t = Timeouts(connect=2, read=0.2, total=10)
        resp = await backend.send(UpstreamRequest("GET", "/"), timeouts=t, route="r")
        await asyncio.sleep(0.6)  # the proxy's own client is slow; the answer came whole
        assert await resp.read() == b"body"
        again = await backend.send(UpstreamRequest("GET", "/"), timeouts=t, route="r")
        assert await again.read() == b"body"

    up = asyncio.run(with_upstream(answer_each(answer, answer), go))
    assert up.connections == 1  # the first connection was still good for the second request
