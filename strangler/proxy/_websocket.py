"""WebSocket sessions through the proxy, routed by the route table like HTTP requests.

A handshake is a ``GET``: it matches the routes as one, and the route's mode picks the side
(canary by the sticky key; a forced side with the admin token). Then::

    client ──handshake──> proxy ──its own handshake──> backend
    client <──101────────  proxy <──101 (subprotocol)── backend
    client <══messages both ways, close code and reason passed on══> backend

- A remote backend (``http://`` / ``https://``) gets a handshake of the proxy's own
  (``ws://`` / ``wss://``) with the client's subprotocols and headers under the header
  policy (no hop-by-hop header, X-Forwarded-* set). The client is accepted only once the
  backend accepted, with the subprotocol the backend chose.
- An in-process ASGI app gets the session's scope itself. A WSGI app cannot serve
  WebSockets: the handshake is refused (``501``).
- A handshake the backend refuses, or that cannot reach it, is refused to the client: with
  the backend's own status, headers and body (or the proxy's JSON error) where the server
  offers the ``websocket.http.response`` extension (uvicorn does), else by a close before
  accept, which servers answer ``403``.

A conversation is never compared (messages interleave with time, a replay could repeat a
payment): where the mode shadows, only the serving side is called and the session counts in
``strangler_shadow_dropped_total{reason="websocket"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any, cast
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from strangler._errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamTLSError,
)
from strangler._tls import handshake_problem
from strangler._types import Message, Receive, Scope, Send
from strangler.backends import ASGIBackend, Backend, HTTPBackend
from strangler.config import Timeouts
from strangler.metrics import ProxyMetrics
from strangler.proxy._headers import HeaderPolicy
from strangler.routing import Decision, Route, Side

__all__ = [
    "HandshakeRefused",
    "WebSocketRelay",
    "WebSocketUnsupported",
    "to_backend_close",
    "to_client_close",
    "websocket_url",
]

log = logging.getLogger("strangler.proxy")

# The largest message relayed from a backend: uvicorn's default limit for the client side.
MAX_MESSAGE = 16 * 1024 * 1024
# Seconds a relay waits for the backend's half of a closing handshake the client started.
_CLOSE_WAIT = 10.0
_EXTENSION = "websocket.http.response"
# Handshake headers each hop negotiates for itself (and Host: the backend's own).
_OWN_HOP = frozenset(
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
# Close codes a close frame may carry (RFC 6455 §7.4; 1005, 1006 and 1015 are never sent).
_SENDABLE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})
_NO_STATUS = 1005
_GOING_AWAY = 1001
_BAD_GATEWAY = 1014
_JSON = [(b"content-type", b"application/json")]


class HandshakeRefused(UpstreamError):
    """The backend answered the WebSocket handshake with an HTTP status instead of ``101``."""

    kind = "websocket_refused"

    def __init__(
        self,
        backend: str,
        route: str,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        super().__init__(backend, route, f"the WebSocket handshake was refused with {status}")
        self.status_code = status
        self.headers = headers
        self.body = body


class WebSocketUnsupported(UpstreamError):
    """The backend cannot serve WebSockets at all (a WSGI app)."""

    status_code = 501
    kind = "websocket_unsupported"
    request_sent_default = False


def websocket_url(base: str, target: str) -> str:
    """The backend's WebSocket URL for a request ``target`` (raw path and query).

    >>> websocket_url("https://pay.internal:8443/api", "/ws/status/7?x=1")
    'wss://pay.internal:8443/api/ws/status/7?x=1'
    >>> websocket_url("http://127.0.0.1:8001", "/ws")
    'ws://127.0.0.1:8001/ws'
    """
    scheme, sep, rest = base.rstrip("/").partition("://")
    return ("wss" if scheme == "https" else "ws") + sep + rest + target


def _sendable(code: int) -> bool:
    return code in _SENDABLE or 3000 <= code < 5000


def to_backend_close(code: int | None) -> int:
    """The close code to send the backend when the client's side ended with ``code``.

    A close frame without a code (1005) becomes a normal close; a client that vanished
    (1006) becomes "going away".

    >>> to_backend_close(4002), to_backend_close(1005), to_backend_close(1006)
    (4002, 1000, 1001)
    """
    if code is None or code == _NO_STATUS:
        return 1000
    return code if _sendable(code) else _GOING_AWAY


def to_client_close(code: int | None) -> int:
    """The close code to send the client when the backend's side ended with ``code``
    (``None``: the backend's connection dropped without a close frame: "bad gateway").

    >>> to_client_close(4001), to_client_close(1005), to_client_close(None)
    (4001, 1000, 1014)
    """
    if code == _NO_STATUS:
        return 1000
    return code if code is not None and _sendable(code) else _BAD_GATEWAY


def _may_fall_back(err: UpstreamError) -> bool:
    """Whether a canary handshake new failed may be tried on legacy: a handshake is a
    ``GET``, so as for HTTP, unless new answered (a refusal under 500) or the client
    already waited a read timeout."""
    if isinstance(err, HandshakeRefused):
        return err.status_code >= 500
    return not err.request_sent or not isinstance(err, UpstreamTimeout)


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


@dataclass(slots=True)
class _Session:
    """One handshake being served: where it goes and how it is counted."""

    route: Route
    side: Side
    started: float
    open: bool = False


class WebSocketRelay:
    """Serves the proxy's ``websocket`` scopes (see the module docstring).

    Built once by :class:`~strangler.proxy.Proxy`, which routes each handshake and calls
    :meth:`serve` with the decision and the upstream headers.
    """

    def __init__(
        self,
        timeouts: Mapping[str, Timeouts],
        policy: HeaderPolicy,
        metrics: ProxyMetrics,
    ) -> None:
        self._timeouts = timeouts
        self._policy = policy
        self._metrics = metrics

    def tls_context(self, backend: HTTPBackend) -> ssl.SSLContext:
        """The TLS context for a ``wss://`` backend: the one its HTTP connections use (made
        from its ``tls`` settings), so a backend the proxy trusts over HTTP is trusted, for
        the same reasons, over wss://."""
        return backend.tls_context()

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: Route,
        decision: Decision,
        headers: list[tuple[bytes, bytes]],
        backends: Mapping[str, Backend],
    ) -> None:
        """Serve one WebSocket session on ``decision.primary`` (canary: legacy if new fails)."""
        connect_message = await receive()
        if connect_message["type"] != "websocket.connect":
            return  # the client left before the handshake
        metrics = self._metrics
        if decision.shadow is not None:
            metrics.dropped(route.key, "websocket")
        session = _Session(route, decision.primary, perf_counter())
        fallback = decision.fallback
        while True:
            backend = backends[session.side]
            try:
                if isinstance(backend, ASGIBackend):
                    if backend.is_wsgi:
                        raise WebSocketUnsupported(
                            backend.name,
                            route.key,
                            f"{backend.description} is a WSGI app, and WSGI cannot serve "
                            "WebSockets: serve this route from an ASGI app or a URL",
                        )
                    await self._in_process(
                        backend, scope, connect_message, receive, send, session, headers
                    )
                    return
                if not isinstance(backend, HTTPBackend):
                    raise WebSocketUnsupported(
                        backend.name, route.key, f"{backend!r} cannot serve WebSockets"
                    )
                upstream = await self._open(backend, scope, headers, route)
            except UpstreamError as err:
                if not isinstance(err, HandshakeRefused):
                    metrics.upstream_error(route.key, err.backend, err.kind)
                if fallback and session.side == "new" and _may_fall_back(err):
                    reason = "status_5xx" if isinstance(err, HandshakeRefused) else err.kind
                    metrics.fallback(route.key, reason)
                    session.side, fallback = "legacy", False
                    continue
                await self._refuse(scope, send, session, err)
                return
            break
        await self._relay(upstream, scope, receive, send, session)

    # -- remote backends ---------------------------------------------------------------------

    async def _open(
        self,
        backend: HTTPBackend,
        scope: Scope,
        headers: list[tuple[bytes, bytes]],
        route: Route,
    ) -> ClientConnection:
        """The backend's side of the session, once it accepted; raises UpstreamError."""
        t = route.timeouts or self._timeouts[backend.name]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        target = (raw_path + b"?" + query if query else raw_path).decode("latin-1")
        url = websocket_url(backend.base, target)
        parts = urlsplit(url)
        secure = parts.scheme == "wss"
        host = parts.hostname or "127.0.0.1"
        try:
            async with asyncio.timeout(t.connect):
                sock = await _tcp_connect(host, parts.port or (443 if secure else 80))
        except TimeoutError:
            raise UpstreamTimeout(
                backend.name, route.key, "connect timeout", request_sent=False
            ) from None
        except OSError as exc:
            raise UpstreamConnectError(
                backend.name, route.key, f"cannot connect to {backend.base} ({exc.strerror or exc})"
            ) from exc
        offered = [Subprotocol(p) for p in scope.get("subprotocols", ())]
        # From here the socket belongs to the transport websockets makes of it, which also
        # closes it when the handshake fails. Given a socket, websockets follows no
        # redirect: a 3xx is relayed to the client.
        try:
            return await connect(
                url,
                sock=sock,
                ssl=self.tls_context(backend) if secure else None,
                server_hostname=(backend.server_hostname or host) if secure else None,
                additional_headers=[
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in headers
                    if k not in _OWN_HOP
                ],
                subprotocols=offered or None,
                user_agent_header=None,  # the client's own User-Agent, if any, is passed on
                compression=None,  # frames pass as they are: no inflate/deflate in the proxy
                proxy=None,
                open_timeout=min(t.read, t.total),
                max_size=MAX_MESSAGE,
            )
        except InvalidStatus as exc:
            raise self._refused(backend, route, exc, headers) from None
        except TimeoutError:
            raise UpstreamTimeout(
                backend.name, route.key, "no answer to the WebSocket handshake within the timeout"
            ) from None
        except ssl.SSLError as exc:  # before OSError: it is one
            raise UpstreamTLSError(
                backend.name, route.key, handshake_problem(exc, backend=backend.name)
            ) from exc
        except (WebSocketException, OSError, ValueError) as exc:
            # A redirect websockets would not follow (another host, or an http:// Location
            # it cannot read as a WebSocket URI) arrives as the cause or the context.
            status = exc.__cause__ or exc.__context__
            if isinstance(status, InvalidStatus):
                raise self._refused(backend, route, status, headers) from None
            raise UpstreamError(
                backend.name, route.key, f"invalid answer to the WebSocket handshake: {exc}"
            ) from exc

    def _refused(
        self,
        backend: HTTPBackend,
        route: Route,
        exc: InvalidStatus,
        forwarded: list[tuple[bytes, bytes]],
    ) -> HandshakeRefused:
        """The backend's refusal as the client gets it: a redirect naming the backend's own
        URL points at the URL the client used (``forwarded``: the handshake's headers)."""
        response = exc.response
        raw = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.raw_items()
        ]
        answer = self._policy.client_urls(self._policy.response(raw), forwarded)
        headers = [(k, v) for k, v in answer if k not in _OWN_HOP]
        return HandshakeRefused(
            backend.name, route.key, response.status_code, headers, bytes(response.body or b"")
        )

    async def _relay(
        self,
        upstream: ClientConnection,
        scope: Scope,
        receive: Receive,
        send: Send,
        session: _Session,
    ) -> None:
        """Accept the client with the backend's answer, then pump messages both ways."""
        response = upstream.response
        raw = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in (response.headers.raw_items() if response is not None else ())
        ]
        headers = [(k, v) for k, v in self._policy.response(raw) if k not in _OWN_HOP]
        try:
            await send(
                {
                    "type": "websocket.accept",
                    "subprotocol": upstream.subprotocol,
                    "headers": headers,
                }
            )
        except OSError:
            await upstream.close(_GOING_AWAY)
            return
        self._accepted(session)
        client_closed = False

        async def client_to_backend() -> None:
            nonlocal client_closed
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    text = message.get("text")
                    data: str | bytes = text if text is not None else message.get("bytes") or b""
                    try:
                        await upstream.send(data)
                    except ConnectionClosed:
                        return  # the backend is closing: backend_to_client tells the client
                elif kind == "websocket.disconnect":
                    client_closed = True
                    code = to_backend_close(message.get("code"))
                    await upstream.close(code, message.get("reason") or "")
                    return

        async def backend_to_client() -> None:
            try:
                while True:
                    data = await upstream.recv()
                    if isinstance(data, str):
                        await send({"type": "websocket.send", "text": data})
                    else:
                        await send({"type": "websocket.send", "bytes": data})
            except ConnectionClosed as exc:
                if client_closed:
                    return
                rcvd = exc.rcvd
                code = to_client_close(rcvd.code if rcvd is not None else None)
                reason = rcvd.reason if rcvd is not None else "the backend's connection was lost"
                with contextlib.suppress(OSError):
                    await send({"type": "websocket.close", "code": code, "reason": reason})
            except OSError:
                return  # the client is gone; client_to_backend gets its disconnect

        up = asyncio.create_task(client_to_backend())
        down = asyncio.create_task(backend_to_client())
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if down in done:
                up.cancel()
            else:
                await asyncio.wait({down}, timeout=_CLOSE_WAIT)
                down.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            for task in (up, down):
                if not task.cancelled() and task.exception() is not None:
                    log.warning(
                        "WebSocket relay for %s on %r failed: %r",
                        session.route.key,
                        session.side,
                        task.exception(),
                    )
        finally:
            up.cancel()
            down.cancel()
            # Idempotent: a no-op when the session closed cleanly, else "going away" (the
            # proxy is shutting down, or the relay failed).
            await upstream.close(_GOING_AWAY)
            self._closed(session)

    # -- in-process backends -----------------------------------------------------------------

    async def _in_process(
        self,
        backend: ASGIBackend,
        scope: Scope,
        connect_message: Message,
        receive: Receive,
        send: Send,
        session: _Session,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        """Run the app on the session's scope; count how its handshake ends."""
        replayed = False
        decided = False

        async def app_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return connect_message  # the proxy read it already
            return await receive()

        async def app_send(message: Message) -> None:
            nonlocal decided
            if not decided:
                kind = message["type"]
                if kind == "websocket.accept":
                    decided = True
                    self._accepted(session)
                elif kind in ("websocket.close", "websocket.http.response.start"):
                    decided = True
                    status = int(message.get("status", 403))
                    self._count_refusal(session, session.side, status)
            await send(message)

        app_scope = {**scope, "headers": headers}
        try:
            await backend.websocket(app_scope, app_receive, app_send)
        except OSError:
            pass  # the client went away while the app was sending
        except Exception:
            log.exception(
                "in-process backend %r failed on WebSocket %s", backend.name, session.route.key
            )
            if not decided:
                error = UpstreamError(backend.name, session.route.key, "the app failed")
                error.status_code = 500
                decided = True
                await self._refuse(scope, send, session, error)
            elif session.open:
                with contextlib.suppress(OSError, RuntimeError):
                    await send({"type": "websocket.close", "code": 1011})
        else:
            if not decided:
                error = UpstreamError(
                    backend.name, session.route.key, "the app returned without a handshake"
                )
                error.status_code = 500
                await self._refuse(scope, send, session, error)
        finally:
            self._closed(session)

    # -- answers and counts ------------------------------------------------------------------

    async def _refuse(
        self, scope: Scope, send: Send, session: _Session, err: UpstreamError
    ) -> None:
        """Refuse the client's handshake because of ``err``, and count it."""
        route = session.route
        if isinstance(err, HandshakeRefused):
            log.info("%s", err)
            status, headers, body = err.status_code, err.headers, err.body
            self._count_refusal(session, session.side, status)
        else:
            log.warning("%s", err)
            status = err.status_code
            payload = {"error": err.kind, "backend": err.backend, "route": route.key}
            if err.detail_in_answer:
                payload["detail"] = err.detail
            body = orjson.dumps(payload)
            headers = list(_JSON)
            self._metrics.websocket_session(route.key, route.mode, session.side, "error")
            self._metrics.request(route.key, route.mode, "proxy", status, 0.0)
        extensions = cast(dict[str, Any], scope.get("extensions") or {})
        with contextlib.suppress(OSError):
            if _EXTENSION in extensions:
                await send(
                    {"type": "websocket.http.response.start", "status": status, "headers": headers}
                )
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                # Without the extension a close before accept is the only refusal: servers
                # answer it with 403 (the close code does not reach the client).
                await send({"type": "websocket.close", "code": 1008})

    def _count_refusal(self, session: _Session, side: str, status: int) -> None:
        route = session.route
        elapsed = perf_counter() - session.started
        self._metrics.websocket_session(route.key, route.mode, side, "refused")
        self._metrics.request(route.key, route.mode, side, status, elapsed)

    def _accepted(self, session: _Session) -> None:
        route, side = session.route, session.side
        metrics = self._metrics
        metrics.websocket_session(route.key, route.mode, side, "accepted")
        metrics.request(route.key, route.mode, side, 101, perf_counter() - session.started)
        metrics.websocket_opened(route.key, side)
        session.open = True
        log.debug("WebSocket %s accepted by %s", route.key, side)

    def _closed(self, session: _Session) -> None:
        if session.open:
            session.open = False
            self._metrics.websocket_closed(session.route.key, session.side)
