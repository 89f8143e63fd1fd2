"""The proxy: an ASGI app that routes each request to legacy or new and streams the answer.

::

    proxy = Proxy(load_config("strangler.yaml"))
    uvicorn.run(proxy, host="127.0.0.1", port=8000)

Per request: match the route (a snapshot of the table, swapped atomically on a flip),
decide the side, forward with the header policy, stream the answer back. A canary
request that new cannot serve is replayed on legacy when that is safe. A shadowed
request's exchange goes to ``shadow_sink`` after the client has its answer.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from time import perf_counter
from typing import TYPE_CHECKING, TypedDict

import orjson

from shadow.exchange import CapturedRequest, CapturedResponse, Exchange, Side
from strangler._errors import UpstreamError, UpstreamTimeout
from strangler._types import Receive, Scope, Send
from strangler.auth import AuthBridges, BridgeFailed, Domain
from strangler.backends import Backend, UpstreamRequest, UpstreamResponse, build_backends
from strangler.config import SAFE_METHODS, Config, Timeouts
from strangler.lifecycle import Lifecycle
from strangler.metrics import ProxyMetrics
from strangler.proxy._body import BodyTooLarge, ClientDisconnected, RequestBody, keep_copy
from strangler.proxy._fast import HANDOFF, FastPath
from strangler.proxy._headers import ForwardedRequest, HeaderPolicy
from strangler.proxy._paths import BadPath, PathPolicy, match_path, normalise_path
from strangler.proxy._server import ProxyHTTPProtocol
from strangler.proxy._watch import ClientWatch
from strangler.proxy._websocket import WebSocketRelay
from strangler.routing import Decision, Route, RouteTable, decide, sticky_key

if TYPE_CHECKING:
    from strangler.discovery import CatchAllSample

__all__ = ["SERVER_SETTINGS", "Hook", "Proxy", "ServerSettings", "ShadowSink"]

log = logging.getLogger("strangler.proxy")

Hook = Callable[[], Awaitable[None]]
ShadowSink = Callable[[Exchange, str], None]


# uvicorn settings for serving the proxy: uvicorn must not rewrite the client address from
# X-Forwarded-For (the proxy applies its own trusted_proxies), must not add its own Server
# and Date headers (the client would get two of each: the upstream's and uvicorn's), and
# logs no line per request; its protocol writes a short answer in one piece.
class ServerSettings(TypedDict):
    http: type[asyncio.Protocol]
    proxy_headers: bool
    server_header: bool
    date_header: bool
    access_log: bool


SERVER_SETTINGS: ServerSettings = {
    "http": ProxyHTTPProtocol,
    "proxy_headers": False,
    "server_header": False,
    "date_header": False,
    "access_log": False,
}

_NO_BODY_STATUS = frozenset({204, 304})
_JSON = [(b"content-type", b"application/json")]


_MOUNT = "strangler.mount"  # the scope key of a mount prefix the proxy took off the path


class Proxy:
    """The routing proxy, an ASGI callable.

    - ``table`` / ``swap_table(t)``: the route table in use; in-flight requests keep the
      snapshot they started with.
    - ``on_startup`` / ``on_shutdown``: ``async () -> None`` hooks run by the ASGI lifespan
      (or, without lifespan, the startup ones before the first request).
    - ``shadow_sink(exchange, shadow_side)``: called with the :class:`~shadow.exchange.Exchange`,
      synchronously and after the client's answer is complete, for every shadowed request.
      It must not block. Bodies are ``None`` when over ``shadow.body_cap``.
    - ``metrics``: a :class:`~strangler.metrics.ProxyMetrics` with its own registry.
    - ``backends``: ``legacy``, ``new`` (and ``new_sandbox``) for the shadow runner.
    - ``discovery``: a :class:`~strangler.discovery.CatchAllSample` that gets each request
      the catch-all answered (but 404s), for live discovery; None: not kept.
    """

    def __init__(
        self,
        config: Config,
        table: RouteTable | None = None,
        *,
        backends: Mapping[str, Backend] | None = None,
    ) -> None:
        self.config = config
        self._table = table if table is not None else RouteTable.build(config)
        self._owns_backends = backends is None
        self.backends: dict[str, Backend] = (
            dict(backends) if backends is not None else build_backends(config)
        )
        self.on_startup: list[Hook] = []
        self.on_shutdown: list[Hook] = []
        self.lifecycle: Lifecycle | None = None  # the components create_app declared
        self.shadow_sink: ShadowSink | None = None
        self.discovery: CatchAllSample | None = None
        self.metrics = ProxyMetrics()
        sides = (config.legacy, config.new, config.new_sandbox)
        self._policy = HeaderPolicy(config.proxy, [b.target for b in sides if b is not None])
        self._max_body = config.proxy.max_body
        token = config.admin.resolved_token()
        self._token = token.encode() if token else None
        self._timeouts: dict[str, Timeouts] = {"legacy": config.legacy.timeouts}
        self._timeouts["new"] = config.new.timeouts
        if config.new_sandbox is not None:
            self._timeouts["new_sandbox"] = config.new_sandbox.timeouts
        self._paths = PathPolicy(
            merge_slashes=config.proxy.paths.merge_slashes,
            semicolons=config.proxy.paths.semicolons,
            escaped_slashes=config.proxy.paths.escaped_slashes,
            trailing_slash=config.proxy.paths.trailing_slash,
            root_path=config.proxy.paths.root_path,
        )
        self._websockets = WebSocketRelay(self._timeouts, self._policy, self.metrics)
        self.auth = AuthBridges(config, self.metrics.registry) if config.auth.domains else None
        self._started = False
        self._closed = False
        self._lock: asyncio.Lock | None = None
        self._rand = random.random
        # What `strangler serve` relays without ASGI (None: every request runs the app).
        self.fast_path = FastPath(self) if config.proxy.fast_path else None

    # -- the table -------------------------------------------------------------------------

    @property
    def policy(self) -> HeaderPolicy:
        """The header policy (hop-by-hop, X-Forwarded-*, backend URLs in answers)."""
        return self._policy

    @property
    def table(self) -> RouteTable:
        return self._table

    def swap_table(self, table: RouteTable) -> None:
        """Serve ``table`` from now on (one reference assignment: atomic)."""
        self._table = table

    # -- lifecycle -------------------------------------------------------------------------

    async def startup(self) -> None:
        """Open backend pools, start in-process apps, run ``on_startup`` hooks (once)."""
        if self._started:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._started:
                return
            for backend in self.backends.values():
                await backend.start()
            for hook in self.on_startup:
                await hook()
            self._started = True

    async def aclose(self) -> None:
        """Run ``on_shutdown`` hooks and close the backends this proxy built."""
        if self._closed:
            return
        self._closed = True
        for hook in self.on_shutdown:
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook %r failed", hook)
        if self._owns_backends:
            for backend in self.backends.values():
                await backend.aclose()
        if self.auth is not None:
            await self.auth.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("proxy startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- one request -----------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._started:
            await self.startup()
        t0 = perf_counter()
        method: str = scope["method"]
        normal = self._normalised(scope)
        if normal is None:
            await self._reply(send, self._table.catch_all, 400, "bad_path", method=method)
            return
        scope = normal
        route, fwd, key, forced = self._route(scope, method, scope.get("scheme", "http"))
        domain = self.auth.domain_for(route.key) if self.auth is not None else None
        if domain is None:
            # The fast path may have decided already, and handed the request over.
            decision = scope.get(HANDOFF) or forced or decide(route, key, self._rand)
            upstream_headers, cohort = fwd.headers, None
        else:
            placed = await self._place(domain, route, scope, fwd.headers, key, forced, send)
            if placed is None:
                return
            decision, upstream_headers, cohort = placed
        sink = self.shadow_sink if decision.shadow is not None else None
        body = await self._body(scope, receive, send, route, decision, sink is not None)
        if body is None:
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        target = (raw_path + b"?" + query if query else raw_path).decode("latin-1")
        request = UpstreamRequest(
            method,
            target,
            upstream_headers,
            body.for_upstream(),
            scope.get("scheme", "http"),
            scope.get("client"),
        )
        answered = await self._forward(
            request, decision.primary, route, decision, body, send, fwd.headers
        )
        if answered is None:
            return
        side, resp = answered
        if decision.fallback and side == "new" and resp.status >= 500 and method in SAFE_METHODS:
            await resp.aclose()
            answered = await self._fall_back(request, route, body, send, "status_5xx", fwd.headers)
            if answered is None:
                return
            side, resp = answered
        status = resp.status
        headers = self._policy.response(resp.headers, fwd)
        learn: bytearray | None = None
        if domain is not None:
            domain.learn(side, resp.headers)
            if domain.learns_from_body and status < 300 and method not in SAFE_METHODS:
                learn = bytearray()  # a login answer: which side issued the token in it
            if cohort is not None:
                headers.append((b"set-cookie", cohort.encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        copy = bytearray() if sink is not None else None
        done, kept = await self._answer_body(receive, send, route, method, resp, copy, learn)
        if not done:
            return
        if learn is not None and domain is not None:
            domain.learn(side, [], bytes(learn))
        elapsed = perf_counter() - t0
        self.answered(route, method, scope["path"], side, status, elapsed)
        if sink is not None and decision.shadow is not None:
            answer = (status, headers, kept, elapsed)
            exchange = self._exchange(scope, route, key, fwd.headers, body.captured, side, answer)
            self._hand_to_shadow(sink, exchange, decision.shadow)

    async def _body(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: Route,
        decision: Decision,
        shadowed: bool,
    ) -> RequestBody | None:
        """The request's body, ready to forward (read whole when a fallback may resend
        it); None when the client was answered (413) or left."""
        method = scope["method"]
        if self._declared_too_large(scope["headers"]):
            await self._reply(send, route, 413, "body_too_large", method=method)
            return None
        body = RequestBody(receive, self._max_body, route.shadow.body_cap if shadowed else None)
        try:
            await body.prepare()
            if decision.fallback and method in SAFE_METHODS:
                await body.read_all()
        except BodyTooLarge:
            await self._reply(send, route, 413, "body_too_large", method=method)
            return None
        except ClientDisconnected:
            return None
        return body

    async def _answer_body(
        self,
        receive: Receive,
        send: Send,
        route: Route,
        method: str,
        resp: UpstreamResponse,
        copy: bytearray | None,
        learn: bytearray | None,
    ) -> tuple[bool, bytearray | None]:
        """Relay the answer's body. Returns whether it was relayed whole (not when a backend
        cut it or the client left: the caller then records nothing) and the copy kept for
        the shadow comparison (None over its cap). ``learn`` gets every chunk."""
        status = resp.status
        cap = route.shadow.body_cap
        ended = False
        watch = ClientWatch(receive, length=resp.content_length())
        try:
            if method != "HEAD" and status not in _NO_BODY_STATUS and status >= 200:
                async for chunk in resp.stream():
                    if copy is not None:
                        copy = keep_copy(copy, chunk, cap)
                    if learn is not None:
                        learn += chunk
                    # The last chunk is sent as the last message (one write less).
                    ended = resp.at_eof()
                    if ended:
                        watch.stop()
                    await send(
                        {"type": "http.response.body", "body": chunk, "more_body": not ended}
                    )
                    if ended:
                        break
                    watch.sent(len(chunk))  # a streamed answer: a client that leaves ends it
        except UpstreamError as err:
            # Headers are gone already: end the connection so the client sees a cut body.
            log.warning("%s", err)
            self.metrics.upstream_error(route.key, err.backend, err.kind)
            return False, None
        except asyncio.CancelledError:
            if watch.absorb():
                return False, None  # the client left: the backend's connection is dropped
            raise
        finally:
            watch.stop()
            await resp.aclose()
        if not ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        return True, copy

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake: routed as a ``GET`` of its path, then relayed."""
        if not self._started:
            await self.startup()
        scheme = "https" if scope.get("scheme") == "wss" else "http"
        normal = self._normalised(scope)
        if normal is None:  # refused before accept: the server answers 403
            await receive()
            await send({"type": "websocket.close", "code": 1008})
            return
        route, fwd, key, forced = self._route(normal, "GET", scheme)
        scope = normal
        decision = forced or decide(route, key, self._rand)
        await self._websockets.serve(
            scope, receive, send, route, decision, fwd.headers, self.backends
        )

    def _normalised(self, scope: Scope) -> Scope | None:
        """``scope`` with the path the proxy routes on and forwards (see ``_paths``), or None
        when the path is ambiguous (the client gets a 400)."""
        raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        root: str = scope.get("root_path", "")
        if root and self._paths.root_path == "strip":
            # Mounted under a prefix (Starlette `Mount`, FastAPI `app.mount`): the routes and
            # the backends know the path inside the mount.
            prefix = root.encode("utf-8")
            if raw.startswith(prefix):
                raw = raw[len(prefix) :] or b"/"
                scope = {**scope, "raw_path": raw, "path": scope["path"][len(root) :] or "/"}
                scope["root_path"] = ""
                scope[_MOUNT] = prefix  # redirects from the backends get it back
        try:
            normal = normalise_path(raw, self._paths)
        except BadPath as err:
            log.info("refused path %r: %s", raw[:200], err)
            return None
        encoded = normal.encode("latin-1")
        if encoded == raw:
            return scope  # the common case: nothing to rewrite
        return {**scope, "raw_path": encoded, "path": match_path(normal)}

    def _route(
        self, scope: Scope, method: str, scheme: str
    ) -> tuple[Route, ForwardedRequest, str | None, Decision | None]:
        """The route of a request (HTTP or a WebSocket handshake), its forwarded headers, its
        sticky key, and the side an admin forced (None: the route's mode decides)."""
        route = self._find_route(method, scope["path"], scope["headers"])
        client = scope.get("client")
        fwd = self._policy.request(scope["headers"], client[0] if client else None, scheme)
        if _MOUNT in scope:
            fwd = fwd._replace(mount=scope[_MOUNT])
        key = sticky_key(route, scope, fwd.client_ip) if route.sticky is not None else None
        forced = self._forced(route, fwd.side, fwd.token) if fwd.side is not None else None
        return route, fwd, key, forced

    def _find_route(self, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> Route:
        """The route for ``method path``; when only the catch-all fits: ``HEAD`` follows the
        route of ``GET``, a CORS preflight the route of its ``Access-Control-Request-Method``,
        and (``trailing_slash: ignore``) ``/a/`` the route of ``/a`` and back."""
        table = self._table
        route = table.route_for(method, path)
        if route is not table.catch_all:
            return route
        candidates = [method]
        if method == "HEAD":
            candidates.append("GET")
        elif method == "OPTIONS":
            wanted = next((v for k, v in headers if k == b"access-control-request-method"), None)
            if wanted:
                candidates.append(wanted.decode("latin-1").strip().upper())
        paths = [path]
        if self._paths.trailing_slash == "ignore" and len(path) > 1:
            paths.append(path[:-1] if path.endswith("/") else f"{path}/")
        for i, p in enumerate(paths):
            for m in candidates[1:] if i == 0 else candidates:
                found = table.route_for(m, p)
                if found is not table.catch_all:
                    return found
        return route

    async def _fall_back(
        self,
        request: UpstreamRequest,
        route: Route,
        body: RequestBody,
        send: Send,
        reason: str,
        client_headers: list[tuple[bytes, bytes]] | None,
    ) -> tuple[Side, UpstreamResponse] | None:
        """Replay ``request`` on legacy after new failed (the caller checked it is safe),
        with the client's own headers (not a credential bridged for new)."""
        self.metrics.fallback(route.key, reason)
        request.body = body.for_upstream()
        if client_headers is not None:
            request.headers = client_headers
        return await self._forward(request, "legacy", route, None, body, send)

    async def _forward(
        self,
        request: UpstreamRequest,
        side: Side,
        route: Route,
        decision: Decision | None,
        body: RequestBody,
        send: Send,
        client_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> tuple[Side, UpstreamResponse] | None:
        """Send to ``side``; on failure fall back to legacy (when safe) or answer the error.

        Returns the side that answered and its response; None means the client has been
        answered (or is gone) already.
        """
        timeouts = route.timeouts or self._timeouts[side]
        try:
            resp = await self.backends[side].send(request, timeouts=timeouts, route=route.key)
            return side, resp
        except UpstreamError as err:
            if body.exceeded:
                await self._reply(send, route, 413, "body_too_large", method=request.method)
                return None
            if body.disconnected:
                return None
            self.metrics.upstream_error(route.key, err.backend, err.kind)
            if decision is not None and decision.fallback and self._may_replay(err, request, body):
                return await self._fall_back(request, route, body, send, err.kind, client_headers)
            log.warning("%s", err)
            payload = {"error": err.kind, "backend": err.backend, "route": route.key}
            if err.detail_in_answer:
                payload["detail"] = err.detail
            await self._reply(send, route, err.status_code, payload, method=request.method)
            return None

    async def _place(
        self,
        domain: Domain,
        route: Route,
        scope: Scope,
        headers: list[tuple[bytes, bytes]],
        key: str | None,
        forced: Decision | None,
        send: Send,
    ) -> tuple[Decision, list[tuple[bytes, bytes]], str | None] | None:
        """The decision for a route of an auth domain: one canary bucket per client for the
        whole domain, then the credential bridged (or the request pinned) towards the side
        that serves it. None: the bridge failed and the client got a 502."""
        presented = domain.credential.read(headers)
        cohort = None
        if route.mode == "canary" and forced is None:
            key, cohort = domain.cohort_key(scope["headers"], presented)
        decision = forced or decide(route, key, self._rand, scope=domain.bucket_scope)
        if presented is None or forced is not None:
            return decision, headers, cohort
        try:
            placement = await domain.place(decision, route.mode, presented, headers)
        except BridgeFailed as err:
            log.warning("auth domain %s: %s (%s)", domain.name, err.reason, presented.name)
            payload = {"error": "auth_bridge_failed", "domain": domain.name, "route": route.key}
            payload["detail"] = err.reason
            await self._reply(send, route, 502, payload, method=scope["method"])
            return None
        return placement.decision, placement.headers or headers, cohort

    @staticmethod
    def _may_replay(err: UpstreamError, request: UpstreamRequest, body: RequestBody) -> bool:
        if not body.replayable:
            return False
        if not err.request_sent:
            return True  # nothing reached new: even a POST may go to legacy
        # A safe method may be replayed, but not after a read timeout: the client waited.
        return request.method in SAFE_METHODS and not isinstance(err, UpstreamTimeout)

    def _forced(self, route: Route, side: bytes | None, token: bytes | None) -> Decision | None:
        if side is None or token is None or self._token is None:
            return None
        if not hmac.compare_digest(token, self._token):
            return None
        if side == b"new":
            return Decision("new")
        if side == b"legacy" and route.mode != "retired":
            return Decision("legacy")
        return None

    def _declared_too_large(self, headers: list[tuple[bytes, bytes]]) -> bool:
        for name, value in headers:
            if name == b"content-length":
                try:
                    return int(value) > self._max_body
                except ValueError:
                    return False
        return False

    async def _reply(
        self,
        send: Send,
        route: Route,
        status: int,
        error: str | dict[str, str],
        *,
        method: str = "GET",
    ) -> None:
        """Answer with the proxy's own small JSON error body."""
        payload = error if isinstance(error, dict) else {"error": error, "route": route.key}
        if status == 413:
            payload["limit"] = str(self._max_body)
        data = orjson.dumps(payload)
        headers = [*_JSON, (b"content-length", str(len(data)).encode())]
        if status == 413:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else data})
        self.metrics.request(route.key, route.mode, "proxy", status, 0.0)

    def answered(
        self, route: Route, method: str, path: str, side: str, status: int, seconds: float
    ) -> None:
        """Count one answer a backend gave (``path`` as routed). Every way of serving a
        request (the ASGI path, the fast path of ``strangler serve``) calls this once per
        answer relayed whole."""
        self.metrics.request(route.key, route.mode, side, status, seconds)
        # live discovery: an undeclared endpoint (the catch-all has no config), one append;
        # a 404 is no endpoint (scanners' probes), as `strangler discover` leaves them out
        if route.config is None and status != 404 and self.discovery is not None:
            self.discovery.add(method, path)

    @staticmethod
    def _exchange(
        scope: Scope,
        route: Route,
        key: str | None,
        fwd_headers: list[tuple[bytes, bytes]],
        captured: bytes | None,
        primary: Side,
        answer: tuple[int, list[tuple[bytes, bytes]], bytearray | None, float],
    ) -> Exchange:
        """The exchange the client just got (bodies ``None`` when over the cap)."""
        status, headers, copy, elapsed = answer
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        request = CapturedRequest(
            method=scope["method"],
            path=raw_path.decode("latin-1"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=tuple([(k.decode("latin-1"), v.decode("latin-1")) for k, v in fwd_headers]),
            body=captured,
            route=route.key,
            sticky_key=key,
        )
        response = CapturedResponse(
            status=status,
            headers=tuple([(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]),
            body=bytes(copy) if copy is not None else None,
            elapsed_ms=elapsed * 1000.0,
        )
        return Exchange(request, primary, response)

    @staticmethod
    def _hand_to_shadow(sink: ShadowSink, exchange: Exchange, shadow_side: str) -> None:
        try:
            sink(exchange, shadow_side)
        except Exception:
            log.exception("shadow sink failed for %s", exchange.request.route)
