"""What the event loop hands to the shadow side is bounded, and nothing handed is lost at shutdown.

Real servers on 127.0.0.1 and a real SQLite store: the recorder's queue bound counts what it
refuses, stopping the proxy waits for the shadow calls in flight and writes every queued
result, and a caller that never times out by itself is cut at the route's timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from shadow.exchange import CapturedRequest, CapturedResponse, Exchange
from shadow.redact import Redactor
from shadow.rules import Rules, compile_rules
from shadow.runner import SWEEP_INTERVAL, RouteShadow, RunnerSettings, ShadowResult, ShadowRunner
from tests.conftest import LiveServer
from tests.shadow.apps import Backend, Call, json_answer
from tests.shadow.conftest import Shadowed

Make = Callable[..., Shadowed]
ROUTE = "GET /orders/{id}"
ASLEEP = {"flush_interval": 60.0, "wake_interval": 60.0, "wake_batch": 10_000}


def order(call: Call) -> tuple[int, list[tuple[str, str]], bytes]:
    return json_answer({"id": call.path.rsplit("/", 1)[-1], "total": 10})


def _served(env: Shadowed, requests: int) -> None:
    env.legacy.handlers.update({f"/orders/{i}": order for i in range(requests)})
    env.new.handlers.update({f"/orders/{i}": order for i in range(requests)})
    with env.client() as c:
        for i in range(requests):
            assert c.get(f"/orders/{i}").json()["id"] == str(i)


def _settled(env: Shadowed, submitted: int) -> None:
    deadline = time.monotonic() + 30
    while env.runner.submitted < submitted or env.runner.in_flight:
        assert time.monotonic() < deadline, "shadow calls did not finish"
        time.sleep(0.01)


def test_results_over_the_queue_bound_are_counted_lost_and_never_queued(shadowed: Make) -> None:
    # A writer that does not wake by itself: the queue only fills, up to its bound.
    env = shadowed(
        [{"route": ROUTE, "mode": "shadow"}],
        recorder={**ASLEEP, "queue_size": 3},
        shadow={"noise_sample": 0},
    )
    _served(env, 5)
    _settled(env, 5)
    assert env.recorder.pending == 3
    assert env.recorder.lost == {"queue_full": 2}
    assert env.recorder.flush(timeout=30)
    assert env.recorder.pending == 0
    totals = env.totals(ROUTE)
    assert (totals["requests"], totals["matched"]) == (3, 3)


def test_stopping_the_proxy_waits_for_shadow_calls_and_writes_every_result(
    shadowed: Make,
) -> None:
    env = shadowed(
        [{"route": ROUTE, "mode": "shadow"}], recorder=ASLEEP, shadow={"noise_sample": 0}
    )
    env.new.hold.update(f"/orders/{i}" for i in range(8))
    _served(env, 8)  # every client has legacy's answer; new has not answered yet
    deadline = time.monotonic() + 10  # the last exchange is handed over after its answer
    while env.runner.in_flight < 8:
        assert time.monotonic() < deadline, env.runner.in_flight
        time.sleep(0.01)
    assert env.runner.in_flight == 8
    threading.Timer(0.5, env.new.release.set).start()
    env.server.stop()  # the lifespan's shutdown: the runner drains, then the recorder
    assert env.runner.in_flight == 0
    assert env.recorder.pending == 0
    assert env.recorder.lost == {}
    totals = env.totals(ROUTE)
    assert (totals["requests"], totals["compared"], totals["matched"]) == (8, 8, 8)


class _Drops:
    """The runner's sink: results and drops as they come."""

    def __init__(self) -> None:
        self.results: list[ShadowResult] = []
        self.drops: list[tuple[str, str, float]] = []
        self.dropped = asyncio.Event()

    def record(self, result: ShadowResult) -> None:
        self.results.append(result)

    def drop(self, route: str, reason: str) -> None:
        self.drops.append((route, reason, time.monotonic()))
        self.dropped.set()


def test_a_caller_that_never_times_out_is_cut_at_the_route_timeout(
    serve: Callable[..., LiveServer],
) -> None:
    new = Backend("new", hold={"/orders/1"})
    live = serve(new)

    async def call(side: str, request: CapturedRequest, body_cap: int) -> CapturedResponse:
        # A plain HTTP/1.1 exchange with no deadline of its own: only the runner cuts it.
        reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
        writer.write(f"GET {request.path} HTTP/1.1\r\nhost: x\r\n\r\n".encode())
        try:
            await reader.read()
        finally:
            writer.close()
        return CapturedResponse(200)

    rules = compile_rules(Rules())
    plan = RouteShadow(ROUTE, RunnerSettings(timeout=0.3, noise_sample=0), rules, Redactor())
    sink = _Drops()

    async def main() -> float:
        runner = ShadowRunner(call, lambda route: plan, sink)
        request = CapturedRequest("GET", "/orders/1", route=ROUTE)
        started = time.monotonic()
        runner.submit(Exchange(request, "legacy", CapturedResponse(200, (), b"{}")), "new")
        await asyncio.wait_for(sink.dropped.wait(), 10)
        assert runner.in_flight == 0
        await runner.aclose()
        return started

    try:
        started = asyncio.run(main())
    finally:
        new.release.set()
    assert [(r, why) for r, why, _ in sink.drops] == [(ROUTE, "timeout")]
    assert sink.results == []
    waited = sink.drops[0][2] - started
    assert 0.3 <= waited <= 0.3 + 3 * SWEEP_INTERVAL
