"""Legacy and new run interleaved: an identical copy passes the gate, a 30 % slower one fails.

One load run over three real servers (legacy, an identical copy, a copy 30 % slower) in
alternating blocks; the gate then judges each copy against legacy. The 20-run proof on a
loaded machine is bench/bench_load_gate.py.
"""

from __future__ import annotations

from collections.abc import Callable

from load.gate import judge
from load.results import Progress
from load.run import RunSpec, Target, run_load
from load.scenario import LoadRequest, RouteLoad, Scenario
from strangler.config import LoadSettings
from tests.conftest import LiveServer
from tests.load.apps import Backend

SCENARIO = Scenario((RouteLoad("GET /work", 1.0, (LoadRequest("GET", "/work"),)),))


def test_identical_sides_pass_and_a_30_percent_slowdown_fails(
    serve: Callable[..., LiveServer],
) -> None:
    legacy = serve(Backend(delays={"/work": 0.010})).url
    twin = serve(Backend(delays={"/work": 0.010})).url
    slower = serve(Backend(delays={"/work": 0.013})).url
    targets = (Target("legacy", legacy), Target("twin", twin), Target("slower", slower))
    spec = RunSpec(
        SCENARIO, targets, users=4, spawn_rate=100, duration=3, block=1.0, request_timeout=5
    )
    order: list[str] = []

    def seen(event: object) -> None:
        if isinstance(event, Progress) and (not order or order[-1] != event.target):
            order.append(event.target)

    results = {r.target: r for r in run_load(spec, seen)}
    # the sides took turns in three rounds (L T S, S T L, L T S), not one long run each
    assert order == ["legacy", "twin", "slower", "twin", "legacy", "twin", "slower"]
    settings = LoadSettings(min_samples=100)
    same = judge(results["legacy"], results["twin"], settings)
    assert same.passed, [v.blockers for v in same.verdicts]
    slow = judge(results["legacy"], results["slower"], settings)
    assert not slow.passed
    assert slow.verdicts[0].blockers[0].startswith("latency: new p50 ")
