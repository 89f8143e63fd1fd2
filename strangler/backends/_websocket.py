"""The backend's side of a WebSocket session, whatever the backend is.

``backend.open_websocket(scope, headers, timeouts=..., route=...)`` returns a
:class:`WebSocketUpstream` once the backend accepted the handshake: a remote service over
``ws://``/``wss://`` (:class:`RemoteWebSocket`, the websockets library on a socket this
module connects), or an in-process ASGI app run as a task behind two queues
(:class:`InProcessWebSocket`). The proxy's relay pumps messages through it and never asks
which kind it has. Every way a handshake can fail is translated here, once:
:class:`HandshakeRefused` (the backend answered with an HTTP status: its status, raw headers
and body, for the proxy to relay), :class:`WebSocketUnsupported` (a WSGI app), or the
usual :class:`~strangler.UpstreamError` kinds (connect, timeout, TLS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from strangler._errors import UpstreamError, UpstreamTimeout
from strangler._types import Message, Scope
from strangler.backends._connect import connect_errors, tls_failed
from strangler.config import Timeouts

__all__ = [
    "MAX_MESSAGE",
    "HandshakeRefused",
    "InProcessWebSocket",
    "RemoteWebSocket",
    "WebSocketClosed",
    "WebSocketUnsupported",
    "WebSocketUpstream",
    "open_remote",
    "websocket_url",
]

log = logging.getLogger("strangler.proxy")

RawHeaders = list[tuple[bytes, bytes]]
# The largest message relayed from a backend: uvicorn's default limit for the client side.
MAX_MESSAGE = 16 * 1024 * 1024
# Handshake headers each hop negotiates for itself (and Host: the backend's own).
OWN_HOP = frozenset(
    {
        b"host",
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"sec-websocket-accept",
        b"content-length",
    }
)
_APP_WAIT = 10.0  # seconds an in-process app gets to finish after its session closed


class HandshakeRefused(UpstreamError):
    """The backend answered the WebSocket handshake with an HTTP status instead of ``101``."""

    kind = "websocket_refused"

    def __init__(self, backend: str, route: str, status: int, headers: RawHeaders, body: bytes):
        super().__init__(backend, route, f"the WebSocket handshake was refused with {status}")
        self.status_code = status
        self.headers = headers
        self.body = body


class WebSocketUnsupported(UpstreamError):
    """The backend cannot serve WebSockets at all (a WSGI app)."""

    status_code = 501
    kind = "websocket_unsupported"
    request_sent_default = False


class WebSocketClosed(Exception):
    """The backend's side ended: its close ``code`` and ``reason`` (code None: the
    connection dropped without a close frame)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class WebSocketUpstream(Protocol):
    """An accepted session on the backend's side."""

    subprotocol: str | None
    headers: RawHeaders  # the backend's handshake answer, names lower-case

    async def send(self, data: str | bytes) -> None:
        """Send one message; raises :class:`WebSocketClosed` when the backend is closing."""
        ...

    async def recv(self) -> str | bytes:
        """The next message; raises :class:`WebSocketClosed` when the backend closed."""
        ...

    async def close(self, code: int, reason: str = "") -> None:
        """Close the session (idempotent)."""
        ...


def websocket_url(base: str, target: str) -> str:
    """The backend's WebSocket URL for a request ``target`` (raw path and query).

    >>> websocket_url("https://pay.internal:8443/api", "/ws/status/7?x=1")
    'wss://pay.internal:8443/api/ws/status/7?x=1'
    >>> websocket_url("http://127.0.0.1:8001", "/ws")
    'ws://127.0.0.1:8001/ws'
    """
    scheme, sep, rest = base.rstrip("/").partition("://")
    return ("wss" if scheme == "https" else "ws") + sep + rest + target


# -- remote services ------------------------------------------------------------------------


class RemoteWebSocket:
    """A session with a remote backend (the websockets library's connection)."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self.subprotocol: str | None = connection.subprotocol
        response = connection.response
        self.headers: RawHeaders = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in (response.headers.raw_items() if response is not None else ())
        ]

    async def send(self, data: str | bytes) -> None:
        try:
            await self._connection.send(data)
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def recv(self) -> str | bytes:
        try:
            return await self._connection.recv()
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def close(self, code: int, reason: str = "") -> None:
        await self._connection.close(code, reason)


def _closed(exc: ConnectionClosed) -> WebSocketClosed:
    rcvd = exc.rcvd
    if rcvd is None:
        return WebSocketClosed(None, "the backend's connection was lost")
    return WebSocketClosed(rcvd.code, rcvd.reason)


async def _tcp_connect(host: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error


async def open_remote(
    *,
    name: str,
    base: str,
    tls: Callable[[], ssl.SSLContext],
    server_hostname: str | None,
    scope: Scope,
    headers: RawHeaders,
    timeouts: Timeouts,
    route: str,
) -> RemoteWebSocket:
    """Open the session on a remote backend at ``base``; raises UpstreamError."""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    url = websocket_url(base, (raw_path + b"?" + query if query else raw_path).decode("latin-1"))
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    host = parts.hostname or "127.0.0.1"
    with connect_errors(name, route, base):
        async with asyncio.timeout(timeouts.connect):
            sock = await _tcp_connect(host, parts.port or (443 if secure else 80))
    # From here the socket belongs to the transport websockets makes of it, which also
    # closes it when the handshake fails. Given a socket, websockets follows no redirect.
    try:
        connection = await connect(
            url,
            sock=sock,
            ssl=tls() if secure else None,
            server_hostname=(server_hostname or host) if secure else None,
            additional_headers=[
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in headers if k not in OWN_HOP
            ],
            subprotocols=[Subprotocol(p) for p in scope.get("subprotocols", ())] or None,
            user_agent_header=None,  # the client's own User-Agent, if any, is passed on
            compression=None,  # frames pass as they are: no inflate/deflate in the proxy
            proxy=None,
            open_timeout=min(timeouts.read, timeouts.total),
            max_size=MAX_MESSAGE,
        )
    except InvalidStatus as exc:
        raise _refused(name, route, exc) from None
    except TimeoutError:
        raise UpstreamTimeout(
            name, route, "no answer to the WebSocket handshake within the timeout"
        ) from None
    except ssl.SSLError as exc:  # before OSError: it is one
        raise tls_failed(name, route, exc) from exc
    except (WebSocketException, OSError, ValueError) as exc:
        # A redirect websockets would not follow (another host, or an http:// Location it
        # cannot read as a WebSocket URI) arrives as the cause or the context.
        status = exc.__cause__ or exc.__context__
        if isinstance(status, InvalidStatus):
            raise _refused(name, route, status) from None
        raise UpstreamError(
            name, route, f"invalid answer to the WebSocket handshake: {exc}"
        ) from exc
    return RemoteWebSocket(connection)


def _refused(name: str, route: str, exc: InvalidStatus) -> HandshakeRefused:
    response = exc.response
    raw = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.raw_items()
    ]
    return HandshakeRefused(name, route, response.status_code, raw, bytes(response.body or b""))


# -- in-process apps ------------------------------------------------------------------------

App = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Any]


class InProcessWebSocket:
    """An ASGI app's session, run as a task: the proxy's messages go in through one queue,
    the app's come out through another."""

    def __init__(self, app: App, scope: Scope, *, name: str, route: str) -> None:
        self._app, self._scope, self._name, self._route = app, scope, name, route
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._done = False
        self.subprotocol: str | None = None
        self.headers: RawHeaders = []

    async def open(self) -> InProcessWebSocket:
        """Run the app until it answers the handshake; raises UpstreamError unless it
        accepted (its refusal, with its status and body, as :class:`HandshakeRefused`)."""
        await self._to_app.put({"type": "websocket.connect"})
        self._task = asyncio.create_task(self._run())
        first = await self._from_app.get()
        kind = first["type"]
        if kind == "websocket.accept":
            self.subprotocol = first.get("subprotocol")
            self.headers = [(bytes(k).lower(), bytes(v)) for k, v in first.get("headers") or ()]
            return self
        self._done = True
        if kind == "websocket.http.response.start":
            body = bytearray()
            while (more := await self._from_app.get())["type"] == "websocket.http.response.body":
                body += more.get("body", b"")
                if not more.get("more_body"):
                    break
            headers = [(bytes(k).lower(), bytes(v)) for k, v in first.get("headers") or ()]
            raise HandshakeRefused(self._name, self._route, first["status"], headers, bytes(body))
        if kind == "websocket.close":
            raise HandshakeRefused(self._name, self._route, 403, [], b"")
        error = UpstreamError(
            self._name,
            self._route,
            "the app failed" if first.get("error") else "the app returned without a handshake",
        )
        error.status_code = 500
        raise error

    async def _run(self) -> None:
        try:
            await self._app(self._scope, self._to_app.get, self._from_app.put)
        except Exception as exc:
            log.exception("in-process backend %r failed on WebSocket %s", self._name, self._route)
            await self._from_app.put({"type": "strangler.ended", "error": exc})
        else:
            await self._from_app.put({"type": "strangler.ended"})

    async def send(self, data: str | bytes) -> None:
        if self._done:
            raise WebSocketClosed(1000)
        key = "text" if isinstance(data, str) else "bytes"
        await self._to_app.put({"type": "websocket.receive", key: data})

    async def recv(self) -> str | bytes:
        while True:
            message = await self._from_app.get()
            kind = message["type"]
            if kind == "websocket.send":
                text = message.get("text")
                return text if text is not None else message.get("bytes") or b""
            if kind == "websocket.close":
                self._done = True
                raise WebSocketClosed(message.get("code", 1000), message.get("reason") or "")
            if kind == "strangler.ended":
                self._done = True
                raise WebSocketClosed(1011 if message.get("error") else 1000)

    async def close(self, code: int, reason: str = "") -> None:
        if self._task is None:
            return
        if not self._task.done():
            await self._to_app.put({"type": "websocket.disconnect", "code": code, "reason": reason})
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._task), _APP_WAIT)
        self._task.cancel()
        self._done = True
