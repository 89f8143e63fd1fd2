"""Cutover: readiness gates, automatic rollback, the kill switch and migration progress.

Pure cores (:func:`assess`, :func:`decide_flip`, :func:`judge`, :func:`build_progress`)
work on plain values; thin adapters read the store (:func:`readiness_of`,
:func:`migration_progress`, :func:`kill_switch_state`) or the proxy's counters
(:class:`RollbackMonitor`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strangler._lazy import lazy_package

if TYPE_CHECKING:
    from strangler.rollout.evidence import gate_flip, readiness_of, route_readiness
    from strangler.rollout.gates import KillSwitchState, decide_flip, new_share, sends_more_to_new
    from strangler.rollout.killswitch import (
        KillSwitchResult,
        engage_kill_switch,
        kill_switch_state,
        release_kill_switch,
    )
    from strangler.rollout.monitor import RollbackMonitor, read_counters
    from strangler.rollout.progress import (
        Progress,
        RouteProgress,
        build_progress,
        migration_progress,
    )
    from strangler.rollout.readiness import (
        EVIDENCE_KINDS,
        Condition,
        Readiness,
        WindowStats,
        assess,
    )
    from strangler.rollout.rollback import (
        RouteCounters,
        SideCounters,
        SlidingWindow,
        judge,
        p99_from_buckets,
    )
    from strangler.rollout.traffic import SideTotals, TrafficPoint

__all__ = [
    "EVIDENCE_KINDS",
    "Condition",
    "KillSwitchResult",
    "KillSwitchState",
    "Progress",
    "Readiness",
    "RollbackMonitor",
    "RouteCounters",
    "RouteProgress",
    "SideCounters",
    "SideTotals",
    "SlidingWindow",
    "TrafficPoint",
    "WindowStats",
    "assess",
    "build_progress",
    "decide_flip",
    "engage_kill_switch",
    "gate_flip",
    "judge",
    "kill_switch_state",
    "migration_progress",
    "new_share",
    "p99_from_buckets",
    "read_counters",
    "readiness_of",
    "release_kill_switch",
    "route_readiness",
    "sends_more_to_new",
]

# Loaded on first use: the rollback monitor pulls in prometheus_client and the route table; `strangler flip` needs the gates only.
lazy_package(
    __name__,
    {
        "strangler.rollout.evidence": ("gate_flip", "readiness_of", "route_readiness"),
        "strangler.rollout.gates": (
            "KillSwitchState",
            "decide_flip",
            "new_share",
            "sends_more_to_new",
        ),
        "strangler.rollout.killswitch": (
            "KillSwitchResult",
            "engage_kill_switch",
            "kill_switch_state",
            "release_kill_switch",
        ),
        "strangler.rollout.monitor": ("RollbackMonitor", "read_counters"),
        "strangler.rollout.progress": (
            "Progress",
            "RouteProgress",
            "build_progress",
            "migration_progress",
        ),
        "strangler.rollout.readiness": (
            "EVIDENCE_KINDS",
            "Condition",
            "Readiness",
            "WindowStats",
            "assess",
        ),
        "strangler.rollout.rollback": (
            "RouteCounters",
            "SideCounters",
            "SlidingWindow",
            "judge",
            "p99_from_buckets",
        ),
        "strangler.rollout.traffic": ("SideTotals", "TrafficPoint"),
    },
)
