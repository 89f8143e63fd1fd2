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
- An in-process ASGI app gets the session's scope itself, run as a task behind two queues.
  A WSGI app cannot serve WebSockets: the handshake is refused (``501``).
- Which kind a backend is, is its own business: ``backend.open_websocket`` returns the
  backend's side of an accepted session (``strangler.backends.WebSocketUpstream``), and the
  relay pumps messages through it.
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
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any, cast

import orjson

from strangler._errors import UpstreamError, UpstreamTimeout
from strangler._types import Receive, Scope, Send
from strangler.backends import (
    Backend,
    HandshakeRefused,
    WebSocketClosed,
    WebSocketUnsupported,
    WebSocketUpstream,
    websocket_url,
)
from strangler.backends._websocket import OWN_HOP
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

# Seconds a relay waits for the backend's half of a closing handshake the client started.
_CLOSE_WAIT = 10.0
_EXTENSION = "websocket.http.response"
# Close codes a close frame may carry (RFC 6455 §7.4; 1005, 1006 and 1015 are never sent).
_SENDABLE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})
_NO_STATUS = 1005
_GOING_AWAY = 1001
_BAD_GATEWAY = 1014
_JSON = [(b"content-type", b"application/json")]


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
            timeouts = route.timeouts or self._timeouts[backend.name]
            try:
                upstream = await backend.open_websocket(
                    scope, headers, timeouts=timeouts, route=route.key
                )
            except UpstreamError as err:
                if not isinstance(err, HandshakeRefused):
                    metrics.upstream_error(route.key, err.backend, err.kind)
                if fallback and session.side == "new" and _may_fall_back(err):
                    reason = "status_5xx" if isinstance(err, HandshakeRefused) else err.kind
                    metrics.fallback(route.key, reason)
                    session.side, fallback = "legacy", False
                    continue
                await self._refuse(scope, send, session, err, headers)
                return
            break
        await self._relay(upstream, receive, send, session)

    async def _relay(
        self, upstream: WebSocketUpstream, receive: Receive, send: Send, session: _Session
    ) -> None:
        """Accept the client with the backend's answer, then pump messages both ways."""
        headers = [(k, v) for k, v in self._policy.response(upstream.headers) if k not in OWN_HOP]
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
        pump = _Pump(upstream, receive, send)
        up = asyncio.create_task(pump.client_to_backend())
        down = asyncio.create_task(pump.backend_to_client())
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

    # -- answers and counts ------------------------------------------------------------------

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        session: _Session,
        err: UpstreamError,
        forwarded: list[tuple[bytes, bytes]],
    ) -> None:
        """Refuse the client's handshake because of ``err``, and count it. The backend's own
        refusal is relayed as the client would get it from the proxy: a redirect naming the
        backend's URL points at the URL the client used (``forwarded``: the handshake's
        headers as sent)."""
        route = session.route
        if isinstance(err, HandshakeRefused):
            log.info("%s", err)
            answer = self._policy.client_urls(self._policy.response(err.headers), forwarded)
            headers = [(k, v) for k, v in answer if k not in OWN_HOP]
            status, body = err.status_code, err.body
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


class _Pump:
    """The two directions of one accepted session."""

    def __init__(self, upstream: WebSocketUpstream, receive: Receive, send: Send) -> None:
        self.upstream, self.receive, self.send = upstream, receive, send
        self.client_closed = False

    async def client_to_backend(self) -> None:
        while True:
            message = await self.receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                data: str | bytes = text if text is not None else message.get("bytes") or b""
                try:
                    await self.upstream.send(data)
                except WebSocketClosed:
                    return  # the backend is closing: backend_to_client tells the client
            elif kind == "websocket.disconnect":
                self.client_closed = True
                code = to_backend_close(message.get("code"))
                await self.upstream.close(code, message.get("reason") or "")
                return

    async def backend_to_client(self) -> None:
        try:
            while True:
                data = await self.upstream.recv()
                if isinstance(data, str):
                    await self.send({"type": "websocket.send", "text": data})
                else:
                    await self.send({"type": "websocket.send", "bytes": data})
        except WebSocketClosed as closed:
            if self.client_closed:
                return
            code = to_client_close(closed.code)
            with contextlib.suppress(OSError):
                await self.send({"type": "websocket.close", "code": code, "reason": closed.reason})
        except OSError:
            return  # the client is gone; client_to_backend gets its disconnect
