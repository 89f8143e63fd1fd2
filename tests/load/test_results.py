"""When the load generator, not the target, may have been the bottleneck."""

from __future__ import annotations

from load.results import TargetResult, generator_warnings


def test_a_busy_generator_is_reported() -> None:
    result = TargetResult("new", "http://n", 10.0, 5, (), cpu_percent=96.0)
    (warning,) = generator_warnings(result, None)
    assert "used 96% of a core" in warning
    assert "--master/--worker" in warning


def test_throughput_near_the_measured_capacity_is_reported() -> None:
    from load.results import RouteResult

    busy = TargetResult(
        "legacy", "http://l", 10.0, 5, (RouteResult("GET /a", 9000, 0, 900.0, 1, 2, 3),)
    )
    (warning,) = generator_warnings(busy, capacity=1000.0)
    assert "900 req/s per load process is 90% of what one can push" in warning
    assert generator_warnings(busy, capacity=5000.0) == []


def test_capacity_is_per_worker_in_a_distributed_run() -> None:
    from load.results import RouteResult

    spread = TargetResult(
        "new",
        "http://n",
        10.0,
        5,
        (RouteResult("GET /a", 16000, 0, 1600.0, 1, 2, 3),),
        workers={"w1": 8000, "w2": 8000},
    )
    assert generator_warnings(spread, capacity=1000.0) != []
    assert generator_warnings(spread, capacity=2000.0) == []
