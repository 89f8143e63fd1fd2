"""Shadow calls begun without a task, on an idle pooled connection (``ShadowRunner``'s
``start``): the same verdicts, timeouts and drops as calls made by a task."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable

import httpx
import pytest

from tests.shadow.apps import CHUNKED, Call, json_answer
from tests.shadow.conftest import Shadowed

Make = Callable[..., Shadowed]
ROUTE = "GET /orders/{id}"


def _order(total: int) -> Callable[[Call], tuple[int, list[tuple[str, str]], bytes]]:
    def answer(call: Call) -> tuple[int, list[tuple[str, str]], bytes]:
        return json_answer({"id": call.path.rsplit("/", 1)[-1], "total": total})

    return answer


def _one_by_one(env: Shadowed, c: httpx.Client, paths: list[str]) -> None:
    """Each request's shadow call ends before the next request: its connection is idle."""
    for n, path in enumerate(paths, start=env.runner.submitted + 1):
        assert c.get(path).status_code < 300
        env.settle(n)


def _held(shadowed: Make, timeout: float) -> Shadowed:
    """A proxy whose route's pool has one idle connection to new, and new holding from now on
    (released by ``env.new.release.set()``)."""
    env = shadowed(
        [{"route": ROUTE, "mode": "shadow"}], shadow={"timeout": timeout, "noise_sample": 0}
    )
    env.legacy.handlers["/orders/1"] = _order(10)
    env.new.handlers["/orders/1"] = _order(10)
    with env.client() as c:
        _one_by_one(env, c, ["/orders/1"])
    env.new.hold.add("/orders/1")
    return env


def test_calls_on_an_idle_connection_start_at_once_and_are_judged_alike(shadowed: Make) -> None:
    env = shadowed([{"route": ROUTE, "mode": "shadow"}], shadow={"noise_sample": 0})
    for i in range(12):
        env.legacy.handlers[f"/orders/{i}"] = _order(10)
        env.new.handlers[f"/orders/{i}"] = _order(12 if i % 3 == 0 else 10)
    with env.client() as c:
        _one_by_one(env, c, [f"/orders/{i}" for i in range(12)])
    # the first call opened the pool's connection; the eleven after it found it idle
    assert env.runner.started_directly == 11
    totals = env.totals(ROUTE)
    assert (totals["compared"], totals["matched"], totals["mismatch_value"]) == (12, 8, 4)
    assert env.fields(ROUTE)["$.total"].mismatches == 4
    assert all(call.headers.get("x-strangler-shadow") == "1" for call in env.new.calls)


def test_a_started_call_past_its_timeout_is_dropped_and_the_client_never_waits(
    shadowed: Make,
) -> None:
    env = _held(shadowed, timeout=0.3)
    try:
        with env.client() as c:
            t0 = time.monotonic()
            assert c.get("/orders/1").json()["total"] == 10
            assert time.monotonic() - t0 < 0.3  # legacy's answer, not new's silence
            env.settle(2)
        assert env.runner.started_directly == 1
        totals = env.totals(ROUTE)
        assert (totals["compared"], totals["dropped"]) == (1, {"timeout": 1})
    finally:
        env.new.release.set()


def test_connections_the_candidate_closed_while_idle_are_never_used(shadowed: Make) -> None:
    """new drops idle connections after 50 ms: every call after a pause must find that out
    before writing, not record new's silence as an error."""
    env = shadowed(
        [{"route": ROUTE, "mode": "shadow"}],
        shadow={"noise_sample": 0},
        new_server={"timeout_keep_alive": 0.05},
    )
    env.legacy.handlers["/orders/1"] = _order(10)
    env.new.handlers["/orders/1"] = _order(10)
    with env.client() as c:
        for _ in range(4):
            _one_by_one(env, c, ["/orders/1", "/orders/1"])  # the second one reuses
            time.sleep(0.2)  # new closes the idle connection
    totals = env.totals(ROUTE)
    assert (totals["compared"], totals["matched"]) == (8, 8)
    assert env.runner.started_directly >= 1


def _gzip(doc: object) -> tuple[int, list[tuple[str, str]], bytes]:
    status, headers, body = json_answer(doc)
    return status, [*headers, ("content-encoding", "gzip")], gzip.compress(body)


def _chunked(doc: object) -> tuple[int, list[tuple[str, str]], bytes]:
    status, headers, body = json_answer(doc)
    return status, [*headers, CHUNKED], body


DOC = {"id": 1, "items": list(range(20))}
# name: (legacy's answer, new's answer, the totals key (or not-compared reason) both calls
# must land in)
CASES = {
    "same": (json_answer(DOC), json_answer(DOC), "matched"),
    "value": (json_answer(DOC), json_answer({**DOC, "id": 2}), "mismatch_value"),
    "status": (json_answer(DOC), json_answer(DOC, 500), "mismatch_status"),
    "chunked": (json_answer(DOC), _chunked(DOC), "matched"),
    "gzip": (json_answer(DOC), _gzip(DOC), "matched"),
    "empty": ((204, [], b""), (204, [], b""), "matched"),
    "over-cap": (json_answer(DOC), json_answer({"blob": "x" * 5000}), "body over the buffer cap"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_started_call_judges_each_kind_of_answer_as_a_task_does(
    shadowed: Make, name: str
) -> None:
    """The first call of a route is made by a task (no idle connection yet), the second is
    started at once: both must end in the same verdict, whatever shape new's answer has."""
    legacy, new, key = CASES[name]
    route = f"GET /{name}/{{id}}"
    env = shadowed(
        [{"route": route, "mode": "shadow"}], shadow={"noise_sample": 0, "body_cap": 4096}
    )
    env.legacy.handlers[f"/{name}/1"] = lambda c: legacy
    env.new.handlers[f"/{name}/1"] = lambda c: new
    with env.client() as c:
        _one_by_one(env, c, [f"/{name}/1", f"/{name}/1"])
    assert env.runner.started_directly == 1
    totals = env.totals(route)
    assert (totals.get(key) or totals["not_compared"].get(key)) == 2, totals
    assert totals["dropped"] == {}


def test_a_started_call_still_out_at_shutdown_is_counted_as_shutting_down(
    shadowed: Make,
) -> None:
    env = _held(shadowed, timeout=30)
    try:
        with env.client() as c:
            assert c.get("/orders/1").status_code == 200
        deadline = time.monotonic() + 10
        while env.runner.started_directly < 1:  # begun once the loop's turn ended
            assert time.monotonic() < deadline
            time.sleep(0.01)
        env.server.stop()  # the runner waits its grace (2 s), then gives the call up
        totals = env.totals(ROUTE)
        assert (totals["compared"], totals["dropped"]) == (1, {"shutting_down": 1})
        assert env.runner.in_flight == 0
    finally:
        env.new.release.set()
