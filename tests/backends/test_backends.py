"""Backends on their own: the aiohttp HTTP backend against a real server, in-process ASGI/WSGI."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from strangler._errors import ConfigError, UpstreamConnectError, UpstreamError, UpstreamTimeout
from strangler.backends import (
    ASGIBackend,
    HTTPBackend,
    UpstreamRequest,
    build_backend,
    is_asgi,
)
from strangler.config import BackendConfig, Timeouts
from tests.conftest import LiveServer, free_port
from tests.proxy.sides import SideApp, legacy_wsgi

FAST = Timeouts(connect=2, read=5, total=10)


T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_http_backend_round_trip_keeps_bytes_and_repeated_headers(
    serve: Callable[..., LiveServer],
) -> None:
    app = SideApp("legacy")
    live = serve(app)

    async def go() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        backend = HTTPBackend("legacy", BackendConfig(target=live.url))
        try:
            req = UpstreamRequest(
                "POST",
                "/echo/a%2Fb?x=%20",
                [(b"host", b"client.example"), (b"x-m", b"1"), (b"x-m", b"2")],
                b"payload",
            )
            resp = await backend.send(req, timeouts=FAST, route="POST /echo/{x}")
            return resp.status, resp.headers, await resp.read()
        finally:
            await backend.aclose()

    status, headers, body = run(go())
    assert status == 200
    echoed = json.loads(body)
    assert echoed["raw_path"] == "/echo/a%2Fb"
    assert echoed["query"] == "x=%20"
    assert echoed["body"] == "payload"
    sent = app.calls[-1].headers
    assert [v for k, v in sent if k == "x-m"] == ["1", "2"]
    assert dict(sent)["host"] == live.url.removeprefix("http://")
    assert "user-agent" not in dict(sent)  # no header the client did not send
    assert all(k == k.lower() for k, _ in headers)


def test_http_backend_streams_a_request_body(serve: Callable[..., LiveServer]) -> None:
    app = SideApp("legacy")
    live = serve(app)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            yield b"%d" % i * 1000

    async def go() -> bytes:
        backend = HTTPBackend("legacy", BackendConfig(target=live.url))
        try:
            req = UpstreamRequest("PUT", "/echo/up", [], chunks())
            return await (await backend.send(req, timeouts=FAST, route="r")).read()
        finally:
            await backend.aclose()

    assert json.loads(run(go()))["body"] == "".join(str(i) * 1000 for i in range(5))


def test_http_backend_connect_error_and_timeouts(serve: Callable[..., LiveServer]) -> None:
    live = serve(SideApp("new"))
    dead = f"http://127.0.0.1:{free_port()}"

    async def go() -> list[BaseException]:
        errors: list[BaseException] = []
        for url, target, t in [
            (dead, "/echo/x", FAST),
            (live.url, "/sleep?s=3", Timeouts(connect=2, read=0.3, total=10)),
            (live.url, "/sleep?s=3", Timeouts(connect=2, read=10, total=0.4)),
        ]:
            backend = HTTPBackend("new", BackendConfig(target=url))
            try:
                await backend.send(UpstreamRequest("GET", target), timeouts=t, route="GET /x")
            except UpstreamError as exc:
                errors.append(exc)
            finally:
                await backend.aclose()
        return errors

    connect, read, total = run(go())
    assert isinstance(connect, UpstreamConnectError)
    assert (connect.status_code, connect.request_sent, connect.backend) == (502, False, "new")
    assert isinstance(read, UpstreamTimeout)
    assert (read.status_code, read.route) == (504, "GET /x")
    assert isinstance(total, UpstreamTimeout)


def test_asgi_backend_runs_lifespan_and_streams(serve: Callable[..., LiveServer]) -> None:
    app = SideApp("new")

    async def go() -> tuple[bool, bytes, list[bytes]]:
        backend = ASGIBackend("new", app)
        await backend.start()
        started = app.lifespan_started
        resp = await backend.send(
            UpstreamRequest("GET", "/echo/%7Bx%7D?a=1", [(b"host", b"h:81")]),
            timeouts=FAST,
            route="r",
        )
        body = await resp.read()
        app.release.set()
        stream = await backend.send(UpstreamRequest("GET", "/stream"), timeouts=FAST, route="r")
        chunks = [c async for c in stream.stream()]
        await stream.aclose()
        await backend.aclose()
        return started, body, chunks

    started, body, chunks = run(go())
    assert started
    echoed = json.loads(body)
    assert (echoed["path"], echoed["raw_path"], echoed["query"]) == (
        "/echo/{x}",
        "/echo/%7Bx%7D",
        "a=1",
    )
    assert chunks == [b"first;", b"rest"]


def test_asgi_backend_crash_is_a_500_and_a_hang_is_a_timeout() -> None:
    async def hangs(scope: dict[str, object], receive: object, send: object) -> None:
        await asyncio.sleep(30)

    async def go() -> tuple[int, bytes, BaseException | None]:
        crash = build_backend("new", BackendConfig(target="tests.proxy.sides:crashing_asgi"))
        resp = await crash.send(UpstreamRequest("GET", "/"), timeouts=FAST, route="r")
        status, body = resp.status, await resp.read()
        hang = ASGIBackend("new", hangs)  # type: ignore[arg-type]
        err: BaseException | None = None
        try:
            await hang.send(UpstreamRequest("GET", "/"), timeouts=Timeouts(read=0.2), route="r")
        except UpstreamTimeout as exc:
            err = exc
        return status, body, err

    status, body, err = run(go())
    assert (status, body) == (500, b"Internal Server Error")
    assert isinstance(err, UpstreamTimeout)


def test_wsgi_app_is_detected_and_wrapped() -> None:
    assert not is_asgi(legacy_wsgi)
    assert is_asgi(SideApp("x"))

    async def go() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        backend = build_backend("legacy", BackendConfig(target="tests.proxy.sides:legacy_wsgi"))
        await backend.start()  # type: ignore[attr-defined]
        try:
            req = UpstreamRequest("POST", "/orgs/x?y=1", [(b"host", b"legacy.local")], b"hi")
            resp = await backend.send(req, timeouts=FAST, route="r")
            return resp.status, resp.headers, await resp.read()
        finally:
            await backend.aclose()

    status, headers, body = run(go())
    assert status == 200
    assert [v for k, v in headers if k == b"set-cookie"] == [b"a=1", b"b=2"]
    assert json.loads(body) == {
        "side": "legacy-wsgi",
        "method": "POST",
        "path": "/orgs/x",
        "query": "y=1",
        "body": "hi",
        "host": "legacy.local",
    }


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("tests.proxy.no_such_module:app", "an importable module"),
        ("tests.proxy.sides:no_such_app", "an attribute 'no_such_app'"),
        ("tests.proxy.sides:GZIPPED", "an ASGI or WSGI application"),
    ],
)
def test_a_bad_in_process_target_is_a_config_error(target: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_backend("legacy", BackendConfig(target=target), file="s.yaml")
    assert info.value.key == "legacy"
    assert info.value.value == target
    assert expected in str(info.value)
    assert str(info.value).startswith("s.yaml: legacy: ")


def test_an_app_next_to_the_config_is_found_without_pythonpath(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A team's `legacy: "myapp_wsgi:application"` lives beside its strangler.yaml, which
    # is not on sys.path when the `strangler` script runs from elsewhere.
    module = f"team_app_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'found beside the config']\n"
    )
    monkeypatch.chdir("/")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    config_file = str(tmp_path / "strangler.yaml")

    async def go() -> tuple[int, bytes]:
        backend = build_backend(
            "legacy", BackendConfig(target=f"{module}:application"), file=config_file
        )
        await backend.start()  # type: ignore[attr-defined]
        try:
            resp = await backend.send(
                UpstreamRequest("GET", "/", [(b"host", b"x")], b""), timeouts=FAST, route="r"
            )
            return resp.status, await resp.read()
        finally:
            await backend.aclose()

    assert run(go()) == (200, b"found beside the config")
