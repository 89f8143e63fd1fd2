"""How far the migration has come, read from the store (``strangler status``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from strangler.config import Config
from strangler.control._evidence import readiness_of
from strangler.control._killswitch import kill_switch_state
from strangler.control._overview import routes_overview
from strangler.rollout.progress import DONE_MODES, Progress, build_progress
from strangler.store import Store
from strangler.store.traffic import served_totals, served_trend

__all__ = ["migration_progress"]


def migration_progress(config: Config, store: Store, *, now: datetime | None = None) -> Progress:
    """Progress of the config's routes, read from the store."""
    now = now or datetime.now(UTC)
    overview = routes_overview(config, store)
    states = [(r.route, r.mode, r.percent, r.held) for r in overview.routes if r.in_config]
    pending = [r for r, mode, _, _ in states if mode not in DONE_MODES]
    verdicts = readiness_of(config, store, pending, now=now)
    hour = served_totals(store, now - timedelta(hours=1), now)
    day = served_totals(store, now - timedelta(days=1), now)
    return build_progress(
        states,
        verdicts,
        share_new_hour=hour.share_new,
        share_new_day=day.share_new,
        trend=served_trend(store, now - timedelta(days=14), now),
        kill_switch=kill_switch_state(store),
    )
