"""Cutover decisions as pure functions: readiness, flip gates, automatic rollback, progress.

Everything here works on plain values and imports neither the store nor the control plane:
:func:`assess` (is a route ready), :func:`decide_flip` (may this flip happen),
:func:`judge` (must this route roll back), :func:`build_progress` (how far along). The
control plane (:mod:`strangler.control`) reads their inputs from the store; the rollback
monitor (:mod:`strangler.rollback_monitor`) feeds :func:`judge` from the proxy's counters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strangler._lazy import lazy_package as _lazy_package

if TYPE_CHECKING:
    from strangler.rollout.gates import KillSwitchState, decide_flip, new_share, sends_more_to_new
    from strangler.rollout.progress import Progress, RouteProgress, build_progress
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

__all__ = [
    "EVIDENCE_KINDS",
    "Condition",
    "KillSwitchState",
    "Progress",
    "Readiness",
    "RouteCounters",
    "RouteProgress",
    "SideCounters",
    "SlidingWindow",
    "WindowStats",
    "assess",
    "build_progress",
    "decide_flip",
    "judge",
    "new_share",
    "p99_from_buckets",
    "sends_more_to_new",
]

# Loaded on first use: `strangler flip` needs the gates only.
_lazy_package(
    __name__,
    {
        "strangler.rollout.gates": (
            "KillSwitchState",
            "decide_flip",
            "new_share",
            "sends_more_to_new",
        ),
        "strangler.rollout.progress": ("Progress", "RouteProgress", "build_progress"),
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
    },
)
