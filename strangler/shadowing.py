"""Wire shadow traffic into a proxy: runner, backends, recorder, metrics.

``create_app`` calls :func:`attach_shadow` once; it sets ``proxy.shadow_sink`` to the
runner, starts the recorder's writer thread on startup and drains both on shutdown::

    proxy = Proxy(config)
    runner = attach_shadow(proxy, config, store)

Shadow calls go through connection pools of their own (one per HTTP backend, with the
backend's settings and ``max_connections``), never the pools client requests take their
connections from: a slow candidate cannot make a client wait for a connection. In-process
backends are shared (they have no pool). Each call has the route's shadow timeout
(``shadow.timeout``); an answer is read up to ``shadow.body_cap`` bytes. A timeout is a
drop (counted in ``strangler_shadow_dropped_total{reason="timeout"}``), never a wait.

Metrics added to the proxy's registry: ``strangler_shadow_verdicts_total{route,outcome,
severity}`` (read by the rollback monitor) and ``strangler_shadow_lost_total{reason}``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from time import perf_counter
from typing import Any

from prometheus_client import Counter

from shadow.exchange import CapturedRequest, CapturedResponse
from shadow.noise import RouteNoise
from shadow.redact import Redactor
from shadow.rules import Rules, route_rules
from shadow.runner import (
    Done,
    RouteShadow,
    RunnerSettings,
    ShadowResult,
    ShadowRunner,
)
from shadow.turns import later
from strangler._errors import RouteError, StoreError, UpstreamError, UpstreamTimeout
from strangler.auth import BridgeFailed
from strangler.backends import Backend, HTTPBackend, RawHeaders, UpstreamRequest
from strangler.backends._base import RelayExchange
from strangler.backends._reuse import may_resend
from strangler.config import Config, Timeouts
from strangler.lifecycle import Component, Lifecycle
from strangler.proxy import HOP_BY_HOP, Proxy
from strangler.recorder import Recorder, load_noise
from strangler.store import Store

__all__ = ["ShadowPools", "attach_shadow", "route_plan", "shadow_components"]

log = logging.getLogger("strangler.shadow")


def route_plan(config: Config, route: str) -> RouteShadow:
    """The runner's plan for a route: settings, compiled rules, redactor, noise statistics."""
    try:
        rc = config.route(route)
    except (RouteError, ValueError):
        rc = None  # the catch-all, or a route that left the config
    settings = config.route_shadow(rc) if rc is not None else config.shadow
    rules = route_rules(config.rules, rc.rules if rc is not None else Rules())
    return RouteShadow(
        route=route,
        settings=RunnerSettings(
            timeout=settings.timeout,
            writes=settings.writes,
            max_in_flight=settings.max_in_flight,
            body_cap=settings.body_cap,
            noise_sample=settings.noise_sample,
        ),
        rules=rules,
        redactor=Redactor(rules.rules.redact),
        noise=RouteNoise(),
    )


class ShadowPools:
    """The backends shadow calls go through: for each HTTP backend of the proxy, a sibling
    with the same settings and a pool of its own (made at its first call); in-process
    backends as they are."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.backends: dict[str, Backend] = {}
        self.started: set[_ShadowRelay] = set()  # calls begun without a task, not ended

    def __getitem__(self, side: str) -> Backend:
        found = self.backends.get(side)
        if found is None:
            base = self.proxy.backends[side]
            found = HTTPBackend(base.name, base.config) if isinstance(base, HTTPBackend) else base
            self.backends[side] = found
        return found

    async def aclose(self) -> None:
        """Close the pools made here (after the runner stopped calling), and the connections
        of calls begun without a task that the runner gave up."""
        for call in list(self.started):
            call.abandon()
        owned = [b for side, b in self.backends.items() if b is not self.proxy.backends[side]]
        self.backends.clear()
        for backend in owned:
            await backend.aclose()


def _wire(request: CapturedRequest) -> tuple[str, RawHeaders]:
    """The request target and headers as sent to a backend."""
    target = request.path + (f"?{request.query}" if request.query else "")
    return target, [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers]


def _failed(error: UpstreamError, t0: float) -> CapturedResponse:
    """A call that failed, as the runner compares it (``error`` set, no answer)."""
    elapsed = (perf_counter() - t0) * 1000.0
    return CapturedResponse(0, (), b"", elapsed, error=f"{error.kind}: {error.detail}")


class _ShadowRelay:
    """A shadow call on an idle pooled connection, driven by its parser callbacks (the
    :class:`~strangler.backends.RelaySink` of ``HTTPBackend.relay``): no task, no future."""

    __slots__ = ("answer", "body", "cap", "conn", "done", "live", "retry", "sent", "t0")

    def __init__(
        self,
        cap: int,
        sent: RawHeaders,
        answer: Callable[[int, RawHeaders, RawHeaders, bytes | None, float], CapturedResponse],
        done: Done,
        retry: Callable[[], None] | None,
        live: set[_ShadowRelay],
    ) -> None:
        self.live = live
        self.conn: RelayExchange | None = None
        self.cap = cap
        self.sent = sent
        self.answer = answer
        self.done = done
        self.retry = retry
        self.body: bytearray | None = bytearray()
        self.t0 = perf_counter()

    def abandon(self) -> None:
        """Shutting down: drop the connection; ``done`` is never called."""
        conn, self.conn = self.conn, None
        self.live.discard(self)
        if conn is not None:
            conn.abort()
            conn.finish()

    def wake(self) -> None:
        conn = self.conn
        if conn is None:
            return
        error = conn.error
        if error is not None:
            self.conn = None
            self.live.discard(self)
            conn.finish()
            if isinstance(error, UpstreamTimeout):
                self.done(None)
            elif not conn.answered and self.retry is not None:
                self.retry()  # a kept-alive connection the upstream had just closed
            else:
                self.done(_failed(error, self.t0))
            return
        if not conn.headers_done:
            return
        data = conn.take_body()
        body = self.body
        if data and body is not None:
            body += data
            if len(body) > self.cap:
                self.body = None  # over the cap: not compared, the rest is drained
        if conn.done and conn.at_eof():
            self.conn = None
            self.live.discard(self)
            status, headers = conn.status, conn.headers
            conn.finish()
            elapsed = (perf_counter() - self.t0) * 1000.0
            # Judged once the callbacks ready now have run (client answers first).
            later(self._complete, status, headers, elapsed)

    def _complete(self, status: int, headers: RawHeaders, elapsed: float) -> None:
        body = self.body
        self.done(
            self.answer(
                status, headers, self.sent, bytes(body) if body is not None else None, elapsed
            )
        )


class _Calls:
    """The runner's two ways to call a side: :meth:`call` (a coroutine, any backend, auth
    bridging) and :meth:`start` (an idle pooled HTTP connection, no task)."""

    def __init__(self, proxy: Proxy, config: Config, pools: ShadowPools) -> None:
        self.proxy = proxy
        self.config = config
        self.pools = pools
        self.hop = {h.decode("latin-1") for h in HOP_BY_HOP}
        self.tasks: set[asyncio.Task[None]] = set()
        self.timeouts: dict[tuple[str, str], Timeouts] = {}

    def captured(
        self, status: int, raw: RawHeaders, sent: RawHeaders, body: bytes | None, elapsed: float
    ) -> CapturedResponse:
        """The answer as compared: hop-by-hop headers out, backend URLs pointed at the client."""
        hop = self.hop
        names = tuple(
            [
                (name, v.decode("latin-1"))
                for k, v in self.proxy.policy.client_urls(raw, sent)
                if (name := k.decode("latin-1")) not in hop
            ]
        )
        return CapturedResponse(status, names, body, elapsed)

    async def call(self, side: str, request: CapturedRequest, body_cap: int) -> CapturedResponse:
        proxy = self.proxy
        backend = self.pools[side]
        timeouts = self.timeouts_for(side, request.route)
        target, headers = _wire(request)
        t0 = perf_counter()
        domain = proxy.auth.domain_for(request.route) if proxy.auth is not None else None
        if domain is not None:
            try:  # the candidate gets the credential it accepts (see strangler.auth)
                headers = await domain.headers_for(side, headers)
            except BridgeFailed as err:
                elapsed = (perf_counter() - t0) * 1000.0
                return CapturedResponse(0, (), b"", elapsed, error=f"auth: {err.reason}")
        try:
            resp = await backend.send(
                UpstreamRequest(request.method, target, headers, request.body or b""),
                timeouts=timeouts,
                route=request.route,
            )
            body: bytearray | None = bytearray()
            try:
                async for chunk in resp.stream():
                    if body is not None:
                        body += chunk
                        if len(body) > body_cap:
                            body = None  # over the cap: not compared, keep draining
            finally:
                await resp.aclose()
        except UpstreamTimeout as err:
            raise TimeoutError(str(err)) from err
        except UpstreamError as err:
            return _failed(err, t0)
        elapsed = (perf_counter() - t0) * 1000.0
        return self.captured(
            resp.status, resp.headers, headers, bytes(body) if body is not None else None, elapsed
        )

    def start(self, side: str, request: CapturedRequest, body_cap: int, done: Done) -> bool:
        route = request.route
        proxy, pools = self.proxy, self.pools
        if proxy.auth is not None and proxy.auth.domain_for(route) is not None:
            return False  # bridging may have to wait for a credential: the task path
        target, headers = _wire(request)
        retry = None
        if may_resend(request.method, headers, whole_body=True):

            def retry() -> None:
                self._again(side, request, body_cap, done)

        sink = _ShadowRelay(body_cap, headers, self.captured, done, retry, pools.started)
        conn = pools[side].relay(
            UpstreamRequest(request.method, target, headers, request.body or b""),
            sink,
            timeouts=self.timeouts_for(side, route),
            route=route,
        )
        if conn is None:
            return False  # no idle connection: the task path opens one
        sink.conn = conn
        pools.started.add(sink)
        return True

    def _again(self, side: str, request: CapturedRequest, body_cap: int, done: Done) -> None:
        """A started call whose kept-alive connection the upstream had just closed: once
        more, by a task on a connection of its own."""

        async def again() -> None:
            try:
                answer: CapturedResponse | None = await self.call(side, request, body_cap)
            except TimeoutError:
                answer = None
            done(answer)

        task = asyncio.get_running_loop().create_task(again())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def timeouts_for(self, side: str, route: str) -> Timeouts:
        """The shadow call's timeouts (the route's ``shadow.timeout``), built once."""
        found = self.timeouts.get((side, route))
        if found is None:
            config = self.config
            try:
                rc = config.route(route)
            except (RouteError, ValueError):
                rc = None
            plan = (config.route_shadow(rc) if rc is not None else config.shadow).timeout
            base = getattr(config, side)
            connect = min(base.timeouts.connect if base else 2.0, plan)
            found = self.timeouts[(side, route)] = Timeouts(connect=connect, read=plan, total=plan)
        return found


def shadow_components(
    proxy: Proxy, config: Config, store: Store | None, *, recorder: Recorder | None = None
) -> tuple[ShadowRunner, list[Component]]:
    """The shadow runner for ``proxy`` (set as its ``shadow_sink``) and its components: the
    recorder (its writer thread) then the runner (seeded with the stored noise)."""
    lost = Counter(
        "strangler_shadow_lost",
        "Shadow results that could not be recorded (queue full, store unavailable)",
        ["reason"],
        registry=proxy.metrics.registry,
    )
    verdicts = Counter(
        "strangler_shadow_verdicts",
        "Shadowed requests by outcome (match, noise, mismatch, not_compared) and severity",
        ["route", "outcome", "severity"],
        registry=proxy.metrics.registry,
    )
    children: dict[tuple[str, str, str], Any] = {}

    def count(result: ShadowResult) -> None:
        severity = result.verdict.severity
        key = (result.route, result.verdict.outcome, severity.label if severity else "")
        child = children.get(key)
        if child is None:
            child = children[key] = verdicts.labels(*key)
        child.inc()

    rec = recorder or Recorder(
        store,
        on_lost=lambda reason, n: lost.labels(reason).inc(n),
        on_drop=proxy.metrics.dropped,
        on_record=count,
    )
    pools = ShadowPools(proxy)
    calls = _Calls(proxy, config, pools)
    runner = ShadowRunner(
        calls.call,
        lambda route: route_plan(config, route),
        rec,
        max_in_flight=config.shadow.max_in_flight,
        sides=frozenset(proxy.backends),
        start=calls.start,
    )
    proxy.shadow_sink = runner.submit

    async def start_recorder() -> None:
        rec.start()

    async def stop_recorder() -> None:
        await asyncio.to_thread(rec.stop)

    async def seed_runner() -> None:
        if store is not None:
            try:
                runner.seed(await asyncio.to_thread(load_noise, store))
            except StoreError as exc:  # keep serving; noise is learned again from scratch
                log.warning("learned noise not loaded: %s", exc)

    # stopped bottom up: the runner's calls end, then their pools close, then the recorder
    return runner, [
        Component("shadow recorder", start_recorder, stop_recorder),
        Component("shadow pools", None, pools.aclose),
        Component("shadow runner", seed_runner, runner.aclose),
    ]


def attach_shadow(
    proxy: Proxy, config: Config, store: Store | None, *, recorder: Recorder | None = None
) -> ShadowRunner:
    """Make ``proxy`` shadow its routes; returns the runner (``runner.sink`` is the recorder).

    For a proxy wired by hand (tests, benchmarks, an app that mounts the proxy):
    :func:`strangler.app.create_app` puts :func:`shadow_components` in its one lifecycle.
    """
    runner, components = shadow_components(proxy, config, store, recorder=recorder)
    life = Lifecycle(components)
    proxy.on_startup.append(life.start)
    proxy.on_shutdown.insert(0, life.stop)
    return runner
