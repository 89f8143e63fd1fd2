"""The fast path of ``strangler serve``: requests relayed at the protocol level.

uvicorn parses each request head. Once the head is complete, and before uvicorn builds a
request cycle for it, :class:`FastPath` may take the request: one whose route is not in an
auth domain, with a small body of known length (at most ``proxy.max_body``). Such a request
gets no uvicorn cycle (the relay stands in for one). Once the request is complete, its
head and body go out in one write on an idle pooled connection, and the answer comes back
through that connection's parser callbacks. Whatever one read from the upstream brings
leaves in one write to the client: the head framed exactly as uvicorn frames what the ASGI
path sends (same status line, headers, ``connection: close`` and chunking rules) and the
body as it arrives, with no task, no ASGI message and no per-chunk coroutine. A shadowed
request keeps what the comparison needs and hands the ASGI path's exchange to the shadow
runner.

Anything else runs the ASGI app, unchanged: no idle connection ready, a connection that
turns out closed before answering (the ASGI path opens a fresh one), a failure that allows
a replay on legacy, a canary answer from new that falls back. The decision already made
travels with the request, so a canary request is never drawn twice and a shadowed one is
sampled once. Errors the client must see are answered by the ASGI path's own code,
through uvicorn. Measured in docs/architecture.md ("The fast path").
"""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from shadow.turns import later
from strangler._errors import UpstreamError, UpstreamTimeout
from strangler._types import Scope
from strangler.backends import UpstreamRequest
from strangler.backends._base import RelayExchange
from strangler.backends._reuse import may_resend
from strangler.config import SAFE_METHODS
from strangler.proxy._body import keep_copy
from strangler.routing import Decision, Route, decide

if TYPE_CHECKING:
    from strangler.proxy._app import Proxy
    from strangler.proxy._headers import ForwardedRequest

__all__ = ["HANDOFF", "MAX_FAST_BODY", "FastPath"]

import os

_XCAP = bool(os.environ.get("XCAP"))
log = logging.getLogger("strangler.proxy")

HANDOFF = "strangler.decision"  # scope key: the decision the fast path made, for the ASGI path
MAX_FAST_BODY = 64 * 1024  # larger bodies stream through the ASGI path (uvicorn's buffer)
_NO_BODY = (204, 304)
_LEGACY = Decision("legacy")


class FastPath:
    """Relays the requests it can take for one :class:`~strangler.proxy.Proxy`.

    ``relayed`` counts the requests answered here (the others ran the ASGI app).
    """

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.relayed = 0
        self.max_body = min(MAX_FAST_BODY, proxy._max_body)

    def take(self, protocol: Any, scope: Scope, keep_alive: bool, cycle: Any = None) -> bool:
        """Serve the request whose head uvicorn's ``protocol`` just parsed into ``scope``
        without ASGI; False when the caller must run the ASGI app as usual.

        ``cycle``: uvicorn's request cycle when one was built (a pipelined request, queued
        before it could start); else the relay is the connection's cycle itself, and a
        real one is built only if the request is handed over to the ASGI path.
        """
        proxy = self.proxy
        if not proxy._started or HANDOFF in scope:
            return False
        for name, value in scope["headers"]:
            if name == b"content-length":
                # over the proxy's own cap too: the ASGI path answers the 413
                if not value.isdigit() or int(value) > self.max_body:
                    return False
            elif name == b"transfer-encoding":
                return False
        normal = proxy._normalised(scope)
        if normal is None:
            return False  # the ASGI path answers the 400
        method: str = scope["method"]
        route, fwd, key, forced = proxy._route(normal, method, scope["scheme"])
        if proxy.auth is not None and proxy.auth.domain_for(route.key) is not None:
            return False
        decision = forced or decide(route, key, proxy._rand)
        relay = _Relay(self, protocol, scope, normal, route, fwd, decision, keep_alive, cycle)
        if decision.shadow is not None and proxy.shadow_sink is not None:
            relay.shadow_with(key)
        protocol.relay = relay
        if cycle is None:
            protocol.cycle = relay  # uvicorn's callbacks feed it body bytes, the end, a disconnect
        else:
            cycle.message_event = relay  # uvicorn sets it on body bytes, the end, a disconnect
        relay.set()
        return True


class _Relay:
    """One request on the fast path, from the complete request to the answer's end.

    Unless uvicorn built a cycle for it (``cycle``), the relay stands in for one: uvicorn's
    protocol appends body bytes to ``body``, clears ``more_body``, sets ``disconnected``
    and ``keep_alive``, and calls ``message_event.set()``, which is :meth:`set`.
    """

    __slots__ = (
        "answer_headers",
        "body",
        "chunked",
        "conn",
        "copy",
        "cycle",
        "decision",
        "disconnected",
        "fast",
        "fwd",
        "keep_alive",
        "key",
        "message_event",
        "method",
        "more_body",
        "normal",
        "path",
        "protocol",
        "request",
        "response_complete",
        "route",
        "scope",
        "shadow",
        "side",
        "started",
        "t0",
        "transport",
    )

    def __init__(
        self,
        fast: FastPath,
        protocol: Any,
        scope: Scope,
        normal: Scope,
        route: Route,
        fwd: ForwardedRequest,
        decision: Decision,
        keep_alive: bool,
        cycle: Any,
    ) -> None:
        self.t0 = perf_counter()
        self.fast = fast
        self.protocol = protocol
        self.scope = scope
        self.cycle = self if cycle is None else cycle
        self.transport = protocol.transport
        self.body = bytearray()
        self.more_body = True
        self.disconnected = False
        self.keep_alive = keep_alive
        self.response_complete = False
        self.message_event = self
        self.route = route
        self.fwd = fwd
        self.decision = decision
        self.side = decision.primary
        self.normal = normal
        self.method: str = normal["method"]
        self.path: str = normal["path"]
        raw: bytes = normal.get("raw_path") or normal["path"].encode()
        query: bytes = normal.get("query_string", b"")
        target = (raw + b"?" + query if query else raw).decode("latin-1")
        self.request = UpstreamRequest(
            self.method, target, fwd.headers, b"", normal["scheme"], normal.get("client")
        )
        self.conn: RelayExchange | None = None
        self.started = False
        self.chunked = False
        self.shadow: str | None = None  # the side a copy of the exchange goes to

    def shadow_with(self, key: str | None) -> None:
        """Keep what the shadow comparison needs: the answer's head and the first
        ``shadow.body_cap`` bytes of its body, as the ASGI path keeps them."""
        self.shadow = self.decision.shadow
        self.key = key
        self.copy: bytearray | None = bytearray()
        self.answer_headers: list[tuple[bytes, bytes]] = []

    # -- uvicorn's side: the cycle's message event -------------------------------------------

    def set(self) -> None:
        """Body bytes arrived, the request ended, or the client left."""
        cycle = self.cycle
        if cycle.disconnected:
            self._client_gone()
        elif self.conn is None and not cycle.more_body:
            self._send()

    def is_set(self) -> bool:
        return False

    # -- the upstream exchange -------------------------------------------------------------

    def _send(self) -> None:
        proxy = self.fast.proxy
        cycle = self.cycle
        self.request.body = bytes(cycle.body)
        route = self.route
        timeouts = route.timeouts or proxy._timeouts[self.side]
        backend = proxy.backends[self.side]
        conn = backend.relay(self.request, self, timeouts=timeouts, route=route.key)
        if conn is None:
            self._hand_off(self.decision)  # no idle connection: the ASGI path opens one
            return
        self.conn = conn

    def wake(self) -> None:
        """The exchange moved on: relay what came, or deal with its end or failure."""
        conn = self.conn
        if conn is None:
            return
        if not self.started:
            if not conn.headers_done:
                if conn.error is not None:
                    self._failed_early(conn, conn.error)
                return
            if (
                self.decision.fallback
                and conn.status >= 500
                and self.side == "new"
                and self.method in SAFE_METHODS
            ):
                conn.abort()
                conn.finish()
                self.fast.proxy.metrics.fallback(self.route.key, "status_5xx")
                self._hand_off(_LEGACY)
                return
            out = self._head(conn)
        else:
            out = b""
        if conn.error is not None or self.protocol.flow.write_paused:
            # a broken answer (the client sees it cut), or a client that reads slowly
            # (resume_writing wakes us again): the head, if new, goes out alone
            if out:
                self.transport.write_now(out)
            if conn.error is not None:
                self._cut(conn, conn.error)
            return
        # What came in one read leaves in one write: head, body bytes and the end.
        data = conn.take_body()
        if data and self.method != "HEAD":
            out += b"%x\r\n%b\r\n" % (len(data), data) if self.chunked else data
            if self.shadow is not None and self.copy is not None:
                self.copy = keep_copy(self.copy, data, self.route.shadow.body_cap)
        end = conn.done and conn.at_eof()
        if end and self.chunked:
            out += b"0\r\n\r\n"
        if out:
            self.transport.write_now(out)
        if end:
            self._end(conn)

    def _head(self, conn: RelayExchange) -> bytes:
        """The answer's head as uvicorn writes an ASGI app's ``http.response.start``."""
        self.started = True
        proxy = self.fast.proxy
        status = conn.status
        cycle = self.cycle
        protocol = self.protocol
        if protocol.access_log:  # `serve --access-log`: uvicorn's line, as for the ASGI path
            scope: Any = self.scope
            protocol.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(scope),
                scope["method"],
                get_path_with_query_string(scope),
                scope["http_version"],
                status,
            )
        headers = proxy.policy.response(conn.headers, self.fwd)
        if self.shadow is not None:
            self.answer_headers = headers
        content = [STATUS_LINE[status]]
        length = False
        # No check of the values for control characters here (uvicorn makes one): the
        # backend's parser refused any such answer already, and the values the policy
        # writes come from it or from the client's parsed request.
        for name, value in headers:
            if name == b"content-length":
                length = True
            content += (name, b": ", value, b"\r\n")
        if not cycle.keep_alive:
            content.append(b"connection: close\r\n")
        if not length and self.method != "HEAD" and status not in _NO_BODY:
            self.chunked = True
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        return b"".join(content)

    def _end(self, conn: RelayExchange) -> None:
        conn.finish()
        fast = self.fast
        fast.relayed += 1
        elapsed = perf_counter() - self.t0
        proxy = fast.proxy
        route = self.route
        proxy.answered(route, self.method, self.path, self.side, conn.status, elapsed)
        if self.shadow is not None and proxy.shadow_sink is not None:
            answer = (conn.status, self.answer_headers, self.copy, elapsed)
            # Captured once the callbacks ready now have run: when several upstream answers
            # came in one turn of the loop, every client gets its own before shadow work
            # starts (bench_shadow, 8 connections: p50 1.18-1.24x -> 1.11-1.12x).
            later(self._capture, answer)
        cycle = self.cycle
        cycle.response_complete = True
        protocol = self.protocol
        protocol.relay = None
        if not cycle.keep_alive:
            self.transport.close()
        protocol.on_response_complete()

    def _capture(
        self, answer: tuple[int, list[tuple[bytes, bytes]], bytearray | None, float]
    ) -> None:
        """Hand the exchange the client got to the shadow runner."""
        proxy = self.fast.proxy
        sink = proxy.shadow_sink
        if sink is None or self.shadow is None:
            return
        route = self.route
        body = self.request.body
        assert isinstance(body, bytes)
        captured = body if len(body) <= route.shadow.body_cap else None
        exchange = proxy._exchange(
            self.normal, route, self.key, self.fwd.headers, captured, self.side, answer
        )
        proxy._hand_to_shadow(sink, exchange, self.shadow)

    # -- when it goes wrong ----------------------------------------------------------------

    def _failed_early(self, conn: RelayExchange, err: UpstreamError) -> None:
        """No byte of the answer reached the client: hand over to the ASGI path when it may
        try again (a fresh connection, or legacy), else answer the error as it would."""
        conn.finish()
        proxy = self.fast.proxy
        request = self.request
        stale = not conn.answered and not isinstance(err, UpstreamTimeout)
        if stale and may_resend(request.method, request.headers, whole_body=True):
            self._hand_off(self.decision)
            return
        route = self.route
        proxy.metrics.upstream_error(route.key, err.backend, err.kind)
        replay = not err.request_sent or (
            request.method in SAFE_METHODS and not isinstance(err, UpstreamTimeout)
        )
        if self.decision.fallback and replay:
            proxy.metrics.fallback(route.key, err.kind)
            self._hand_off(_LEGACY)
            return
        log.warning("%s", err)
        payload = {"error": err.kind, "backend": err.backend, "route": route.key}
        if err.detail_in_answer:
            payload["detail"] = err.detail
        cycle = self._detach()
        reply = proxy._reply(cycle.send, route, err.status_code, payload, method=self.method)
        self._spawn(reply)

    def _cut(self, conn: RelayExchange, err: UpstreamError) -> None:
        """The answer broke after its head left: the client sees a cut body."""
        log.warning("%s", err)
        self.fast.proxy.metrics.upstream_error(self.route.key, err.backend, err.kind)
        conn.finish()
        self._drop()

    def _client_gone(self) -> None:
        conn = self.conn
        if conn is not None:
            conn.abort()  # the backend's connection is dropped, as on the ASGI path
            conn.finish()
        self.protocol.relay = None

    def _drop(self) -> None:
        self.protocol.relay = None
        self.transport.close()

    def _detach(self) -> Any:
        """Give the request back to uvicorn (it is complete): its cycle, with a real event,
        set; built now when the relay stood in for it."""
        protocol = self.protocol
        protocol.relay = None
        cycle = self.cycle
        if cycle is self:
            cycle = protocol.make_cycle(self.scope, self.keep_alive)
            cycle.body = self.body
            cycle.more_body = False
            cycle.disconnected = self.disconnected
            if protocol.cycle is self:
                protocol.cycle = cycle
        event = asyncio.Event()
        event.set()
        cycle.message_event = event
        return cycle

    def _hand_off(self, decision: Decision) -> None:
        """Run the ASGI app on this request, with ``decision`` already made."""
        cycle = self._detach()
        self.scope[HANDOFF] = decision
        self.protocol.start_asgi(cycle)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        tasks = self.protocol.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)
