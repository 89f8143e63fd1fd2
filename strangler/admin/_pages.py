"""What the dashboard pages show, gathered from the store (called in a worker thread)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from strangler.admin import _charts
from strangler.admin import _differences as differences
from strangler.config import MODES, Config
from strangler.control import (
    RouteStatus,
    format_percent,
    migration_progress,
    readiness_of,
    routes_overview,
)
from strangler.rollout.readiness import Readiness
from strangler.store import Store

__all__ = ["RouteRow", "dashboard", "mode_label", "pct", "route_detail", "when"]


def pct(value: float | None) -> str:
    """``0.9876`` -> ``'98.76%'``; a dash for no value."""
    return "-" if value is None else f"{value * 100:.2f}%"


def mode_label(mode: str, percent: Decimal | None = None) -> str:
    return f"canary {format_percent(percent)}" if mode == "canary" else mode


def when(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True, slots=True)
class RouteRow:
    """One line of the routes table."""

    status: RouteStatus
    readiness: Readiness | None

    @property
    def traffic(self) -> int:
        if self.readiness is None:
            return 0
        s = self.readiness.stats
        return s.legacy_requests + s.new_requests


def dashboard(config: Config, store: Store) -> dict[str, Any]:
    """The routes table, the progress figures and the kill switch."""
    now = datetime.now(UTC)
    overview = routes_overview(config, store)
    verdicts = readiness_of(config, store, now=now)
    progress = migration_progress(config, store, now=now)
    rows = [RouteRow(r, verdicts.get(r.route)) for r in overview.routes if r.in_config]
    initial = {rc.key: rc.mode for rc in config.routes}
    history = _charts.mode_history(initial, store.history(None, 100_000), now)
    return {
        "rows": rows,
        "progress": progress,
        "modes": MODES,
        "version": overview.version,
        "figure": _charts.progress_figure(history, progress.trend),
    }


def route_detail(config: Config, store: Store, key: str) -> dict[str, Any]:
    """One route: its state, readiness, differences and flip history."""
    route = config.route(key).key
    overview = routes_overview(config, store)
    status = next(r for r in overview.routes if r.route == route)
    verdict = readiness_of(config, store, [route])[route]
    return {
        "row": RouteRow(status, verdict),
        "modes": MODES,
        "differences": differences.for_route(store, route),
        "flips": store.history(route, 200),
    }
