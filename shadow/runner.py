"""The shadow runner: call the other side off the critical path, compare, hand on the result.

The proxy calls :meth:`ShadowRunner.submit` after the client has its whole answer;
``submit`` is synchronous and never waits: it decides (write policy, caps, in-flight bound,
noise sampling) and starts the call. A call the caller's ``start`` can begin at once (an
idle pooled HTTP connection, no noise replay) runs without a task: the answer's arrival
compares and records it. Otherwise a task calls the candidate side (and, for a noise
sample, the primary side a second time) under the route's timeout, compares, splits real
differences from learned noise and passes a :class:`ShadowResult` to the sink (the
recorder). Whatever is over a bound is dropped and counted, never queued. The caller
enforces the timeout (the HTTP backends' own deadline); a call still running past it (a
caller that does not time out by itself) is cancelled by a sweep every
:data:`SWEEP_INTERVAL` seconds (at most two intervals late), one timer for all calls, and
dropped as ``timeout``.

Write safety: POST, PUT, PATCH and DELETE follow the route's ``writes`` policy: ``skip``
(the default: the other side is never called), ``sandbox`` (sent to the ``new_sandbox``
backend, never to ``new``), ``allow``. Noise samples call the primary twice only for safe
methods.

The runner does no I/O itself: the ``call`` function (given by the proxy's wiring, see
``strangler.shadowing``) reaches the backends. Shadow requests carry
``x-strangler-shadow: 1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from shadow.compare import compare
from shadow.exchange import SAFE_METHODS, CapturedRequest, CapturedResponse, Exchange
from shadow.noise import FieldCounts, RouteNoise, classify
from shadow.redact import Redactor
from shadow.rules import CompiledRules
from shadow.verdict import Verdict

__all__ = [
    "MARKER_HEADER",
    "SAFE_METHODS",
    "Caller",
    "Done",
    "ResultSink",
    "RouteShadow",
    "RunnerSettings",
    "ShadowResult",
    "ShadowRunner",
    "Starter",
]

log = logging.getLogger("strangler.shadow")

MARKER_HEADER = ("x-strangler-shadow", "1")
INLINE_COMPARE_BYTES = 32 << 10  # larger pairs are compared in a worker thread
SWEEP_INTERVAL = 0.1  # seconds between two looks for calls past their route's timeout

#: ``call(side, request, body_cap)``: the side's answer; errors come back as ``error``.
Caller = Callable[[str, CapturedRequest, int], Awaitable[CapturedResponse]]
#: What a call started by a :data:`Starter` ends with: the answer, or None on a timeout.
Done = Callable[[CapturedResponse | None], None]
#: ``start(side, request, body_cap, done)``: begin the call now, without a task, when the
#: side can (True; ``done`` is called once, later); False when it cannot (``call`` then).
Starter = Callable[[str, CapturedRequest, int, Done], bool]


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """A route's shadow settings (the runner's copy of the config's ``shadow:``)."""

    timeout: float = 5.0
    writes: Literal["skip", "sandbox", "allow"] = "skip"
    max_in_flight: int = 64
    body_cap: int = 1 << 20
    noise_sample: float = 0.1


@dataclass(frozen=True, slots=True)
class RouteShadow:
    """Everything the runner needs for one route, built once."""

    route: str
    settings: RunnerSettings
    rules: CompiledRules
    redactor: Redactor
    noise: RouteNoise = field(default_factory=RouteNoise)


@dataclass(frozen=True, slots=True)
class ShadowResult:
    """One shadowed exchange with its verdict (not yet redacted): the proxy's
    :class:`~shadow.exchange.Exchange`, completed with the candidate's answer (and the
    second primary answer of a noise sample)."""

    route: str
    at: datetime
    exchange: Exchange
    candidate_side: str
    verdict: Verdict
    second: Verdict | None
    redactor: Redactor

    @property
    def request(self) -> CapturedRequest:
        return self.exchange.request

    @property
    def primary_side(self) -> str:
        return self.exchange.primary_side

    @property
    def primary(self) -> CapturedResponse:
        return self.exchange.primary

    @property
    def candidate(self) -> CapturedResponse | None:
        return self.exchange.candidate


class ResultSink(Protocol):
    """Where results go (the recorder); both calls must return at once."""

    def record(self, result: ShadowResult) -> None: ...

    def drop(self, route: str, reason: str) -> None: ...


def _inline(a: CapturedResponse, b: CapturedResponse) -> bool:
    """Whether a pair is small enough to be compared on the event loop."""
    return len(a.body or b"") + len(b.body or b"") <= INLINE_COMPARE_BYTES


def _legacy_to_new(
    exchange: Exchange, candidate: CapturedResponse
) -> tuple[CapturedResponse, CapturedResponse]:
    """The pair in comparison order: differences always read legacy -> new, also when new
    is the primary (reverse shadowing)."""
    if exchange.primary_side == "legacy":
        return exchange.primary, candidate
    return candidate, exchange.primary


class ShadowRunner:
    """Runs shadow calls for the proxy; ``submit`` is its ``shadow_sink``.

    ``plan(route)`` gives a route's :class:`RouteShadow` (cached here); ``sides`` lists
    the backends that exist (``new_sandbox`` is optional).
    """

    def __init__(
        self,
        call: Caller,
        plan: Callable[[str], RouteShadow],
        sink: ResultSink,
        *,
        max_in_flight: int = 64,
        sides: frozenset[str] = frozenset({"legacy", "new"}),
        rand: Callable[[], float] = random.random,
        start: Starter | None = None,
    ) -> None:
        self._call = call
        self._start = start
        self._plan_of = plan
        self._plans: dict[str, RouteShadow] = {}
        self._sink = sink
        self._max = max_in_flight
        self._sides = sides
        self._rand = rand
        self._in_flight = 0
        self._per_route: dict[str, int] = {}
        # Each call's deadline (loop time): one sweeping timer cancels the late ones, which
        # costs far less than an ``asyncio.timeout`` (a timer armed and disarmed) per call.
        self._tasks: dict[asyncio.Task[None], float] = {}
        self._expired: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False
        self._drained: asyncio.Future[None] | None = None  # set by aclose, done at 0 in flight
        self._abandoned = False  # aclose gave up the calls still out: their ends are ignored
        self.submitted = 0
        self.started_directly = 0  # calls begun by ``start``, without a task

    @property
    def sink(self) -> ResultSink:
        """Where results go (the recorder, when wired by ``strangler.shadowing``)."""
        return self._sink

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def plan(self, route: str) -> RouteShadow:
        found = self._plans.get(route)
        if found is None:
            found = self._plans[route] = self._plan_of(route)
        return found

    def seed(self, learned: dict[str, RouteNoise]) -> None:
        """Start from noise statistics learned earlier (by this or other processes)."""
        for route, stats in learned.items():
            noise = self.plan(route).noise
            noise.compared += stats.compared
            noise.samples += stats.samples
            for name, counts in stats.fields.items():
                mine = noise.fields.setdefault(name, FieldCounts())
                mine.legacy_legacy += counts.legacy_legacy
                mine.legacy_new += counts.legacy_new

    # -- the sink the proxy calls ------------------------------------------------------------

    def submit(self, exchange: Exchange, shadow_side: str) -> None:
        """Start the shadow call for the exchange the proxy served, or drop it (never blocks)."""
        self.submitted += 1
        request, primary = exchange.request, exchange.primary
        route = request.route
        if self._closed:
            self._sink.drop(route, "shutting_down")
            return
        plan = self.plan(route)
        target = shadow_side
        if request.method not in SAFE_METHODS:
            writes = plan.settings.writes
            if writes == "skip":
                self._not_compared(plan, exchange, target, "write skipped")
                return
            if writes == "sandbox":
                if shadow_side != "new" or "new_sandbox" not in self._sides:
                    why = "write skipped (no sandbox backend for this side)"
                    self._not_compared(plan, exchange, target, why)
                    return
                target = "new_sandbox"
        if request.body is None:
            reason = "request body over the cap"
            self._not_compared(plan, exchange, target, reason)
            return
        if primary.body is None:
            reason = "response body over the cap"
            self._not_compared(plan, exchange, target, reason)
            return
        busy = self._per_route.get(route, 0)
        if self._in_flight >= self._max or busy >= plan.settings.max_in_flight:
            self._sink.drop(route, "in_flight_limit")
            return
        # Adaptive: every safe request of a route gets the second primary call until the
        # route has enough noise samples to decide its fields; then `noise_sample` of them.
        noise = (
            request.method in SAFE_METHODS
            and plan.settings.noise_sample > 0
            and (plan.noise.learning or self._rand() < plan.settings.noise_sample)
        )
        self._in_flight += 1
        self._per_route[route] = busy + 1
        # At once: the fast path already hands the exchange over in a later turn of the loop
        # (shadow.turns), and a call begun later still would measure an in-process
        # candidate's answer time against the next client's request (the in-process recipe's
        # latency gate failed 2 times in 4 that way).
        self._begin(plan, exchange, target, noise)

    def _begin(self, plan: RouteShadow, exchange: Exchange, target: str, noise: bool) -> None:
        """Start the call ``submit`` let through (its in-flight place is taken)."""
        request = exchange.request
        # The candidate is told it is shadowed; the noise call replays the primary's own
        # request exactly (a legacy endpoint that echoes headers must not learn the marker
        # as noise).
        marked = CapturedRequest(  # dataclasses.replace costs several times more
            request.method,
            request.path,
            request.query,
            (*request.headers, MARKER_HEADER),
            request.body,
            request.route,
            request.sticky_key,
        )
        if not noise and self._start is not None:

            def done(candidate: CapturedResponse | None) -> None:
                self._answered(plan, exchange, target, candidate)

            try:
                if self._start(target, marked, plan.settings.body_cap, done):
                    self.started_directly += 1
                    return
            except Exception:  # a broken starter costs the task path, never the call
                log.exception("shadow call could not start for %s", plan.route)
        self._spawn(plan, self._run(plan, exchange, target, marked, noise))

    def _spawn(self, plan: RouteShadow, coro: Coroutine[None, None, None]) -> None:
        loop = asyncio.get_running_loop()
        task = loop.create_task(coro)
        # One sweep later than the timeout: a caller that keeps the deadline itself (the HTTP
        # backends do) always ends first, so a noise call's late primary answer is still
        # given up alone and the candidate's verdict kept.
        self._tasks[task] = loop.time() + plan.settings.timeout + SWEEP_INTERVAL
        task.add_done_callback(self._forget)
        if self._sweeper is None:
            self._sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        self._expired.discard(task)

    def _sweep(self) -> None:
        """Cancel the calls past their route's timeout (a caller that did not time out by
        itself); they are dropped as ``timeout``."""
        self._sweeper = None
        if not self._tasks:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        for task, deadline in self._tasks.items():
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        self._sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep)

    def _not_compared(
        self, plan: RouteShadow, exchange: Exchange, target: str, reason: str
    ) -> None:
        verdict = Verdict.not_compared(reason)
        result = ShadowResult(
            plan.route, datetime.now(UTC), exchange, target, verdict, None, plan.redactor
        )
        self._sink.record(result)

    # -- the task ------------------------------------------------------------------------

    async def _timed(
        self, side: str, request: CapturedRequest, plan: RouteShadow
    ) -> CapturedResponse | None:
        try:
            return await self._call(side, request, plan.settings.body_cap)
        except TimeoutError:
            return None

    async def _compare(
        self, a: CapturedResponse, b: CapturedResponse, rules: CompiledRules
    ) -> Verdict:
        if _inline(a, b):
            return compare(a, b, rules)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="strangler-compare")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, compare, a, b, rules)

    def _answered(
        self, plan: RouteShadow, exchange: Exchange, target: str, candidate: CapturedResponse | None
    ) -> None:
        """The end of a call begun by ``start``: judge and record it here, on the loop, or in
        a task when the pair is large enough to be compared in the worker thread."""
        route = plan.route
        if self._abandoned:
            return  # counted as shutting_down by aclose already
        handed_on = False
        try:
            if candidate is None:
                self._sink.drop(route, "timeout")
            elif self._closed and candidate.error is not None:
                self._sink.drop(route, "shutting_down")  # its pool was closed under it
            elif not _inline(candidate, exchange.primary):
                self._spawn(plan, self._run(plan, exchange, target, None, False, candidate))
                handed_on = True  # the task holds the in-flight place now
            else:
                verdict = compare(*_legacy_to_new(exchange, candidate), plan.rules)
                self._judged(plan, exchange, target, candidate, None, verdict, None)
        except Exception:
            log.exception("shadow call failed for %s", route)
            self._sink.drop(route, "error")
        finally:
            if not handed_on:
                self._release(route)

    def _drop(self, route: str, reason: str) -> None:
        if not self._abandoned:  # else aclose counted the call as shutting_down already
            self._sink.drop(route, reason)

    def _release(self, route: str) -> None:
        """A call's in-flight place is free again."""
        if self._abandoned:
            return  # aclose gave every place back
        self._in_flight -= 1
        self._per_route[route] -= 1
        drained = self._drained
        if drained is not None and not self._in_flight and not drained.done():
            drained.set_result(None)

    def _judged(
        self,
        plan: RouteShadow,
        exchange: Exchange,
        target: str,
        candidate: CapturedResponse,
        again: CapturedResponse | None,
        verdict: Verdict,
        second: Verdict | None,
    ) -> None:
        """Split real differences from learned noise and hand the result to the sink."""
        if self._abandoned:
            return  # counted as shutting_down by aclose already
        verdict = classify(verdict, second, plan.noise)
        request, primary_side, primary = exchange.request, exchange.primary_side, exchange.primary
        done = Exchange(request, primary_side, primary, candidate, again, exchange.notes)
        result = ShadowResult(
            plan.route, datetime.now(UTC), done, target, verdict, second, plan.redactor
        )
        self._sink.record(result)

    async def _run(
        self,
        plan: RouteShadow,
        exchange: Exchange,
        target: str,
        marked: CapturedRequest | None,
        noise: bool,
        candidate: CapturedResponse | None = None,
    ) -> None:
        """Call the candidate with ``marked`` (and replay the primary's request for a noise
        sample), or judge the ``candidate`` answer a started call already got."""
        route = plan.route
        request, primary_side, primary = exchange.request, exchange.primary_side, exchange.primary
        try:
            again = None
            if marked is not None:
                if noise:
                    candidate, again = await asyncio.gather(
                        self._timed(target, marked, plan),
                        self._timed(primary_side, request, plan),
                    )
                else:
                    candidate = await self._timed(target, marked, plan)
            if candidate is None:
                self._drop(route, "timeout")
                return
            verdict = await self._compare(*_legacy_to_new(exchange, candidate), plan.rules)
            second = None
            if again is not None and again.error is None:
                second = await self._compare(primary, again, plan.rules)
            self._judged(plan, exchange, target, candidate, again, verdict, second)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task in self._expired:  # cancelled by the sweeper
                task.uncancel()
                self._drop(route, "timeout")
                return
            self._drop(route, "shutting_down")
            raise
        except Exception:
            log.exception("shadow call failed for %s", route)
            self._drop(route, "error")
        finally:
            self._release(route)

    async def aclose(self, grace: float = 2.0) -> None:
        """Stop taking work; wait up to ``grace`` seconds for calls in flight, cancel the rest."""
        self._closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        # Calls begun without a task end by themselves (their connection's deadline), or are
        # dropped as ``shutting_down`` when their pool closes after this.
        if self._in_flight:
            self._drained = loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained, max(deadline - loop.time(), 0.0))
        if self._in_flight:  # started calls still out after the grace: given up, and said so
            self._abandoned = True
            for route, n in self._per_route.items():
                for _ in range(n):
                    self._sink.drop(route, "shutting_down")
            self._per_route.clear()
            self._in_flight = 0
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
