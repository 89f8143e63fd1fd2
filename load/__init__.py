"""Load tests before cutover: locust scenarios from the route table or recorded traffic, runs
against legacy, new or the proxy, and the load gate that judges new against legacy.

    strangler load -c strangler.yaml --target both --duration 60s --report-html load.html

locust runs in a child process (it patches its process with gevent); this package never
imports it. See docs/load-testing.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strangler import lazy_package as _lazy_package

if TYPE_CHECKING:
    from load.gate import GateResult, RouteVerdict, judge, judge_route
    from load.results import Progress, RouteResult, TargetResult, generator_warnings
    from load.run import RunSpec, Target, WorkerWait, resolve_target, run_load, run_worker
    from load.scenario import LoadRequest, RouteLoad, Scenario, from_corpus, from_routes

__all__ = [
    "GateResult",
    "LoadRequest",
    "Progress",
    "RouteLoad",
    "RouteResult",
    "RouteVerdict",
    "RunSpec",
    "Scenario",
    "Target",
    "TargetResult",
    "WorkerWait",
    "from_corpus",
    "from_routes",
    "generator_warnings",
    "judge",
    "judge_route",
    "resolve_target",
    "run_load",
    "run_worker",
]

# Loaded on first use: `strangler.commands` imports this package for every `strangler` command.
_lazy_package(
    __name__,
    {
        "load.gate": ("GateResult", "RouteVerdict", "judge", "judge_route"),
        "load.results": ("Progress", "RouteResult", "TargetResult", "generator_warnings"),
        "load.run": ("RunSpec", "Target", "WorkerWait", "resolve_target", "run_load", "run_worker"),
        "load.scenario": ("LoadRequest", "RouteLoad", "Scenario", "from_corpus", "from_routes"),
    },
)
