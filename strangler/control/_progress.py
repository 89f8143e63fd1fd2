"""How far the migration has come, read from the store (``strangler status``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from strangler.config import Config
from strangler.control._evidence import readiness_of
from strangler.control._killswitch import kill_switch_state
from strangler.control._overview import routes_overview
from strangler.rollout.progress import DONE_MODES, Forecast, Progress, build_progress, forecast
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
        forecast=_forecast(store, [(r, mode) for r, mode, _, _ in states], now),
    )


def _forecast(store: Store, states: list[tuple[str, str]], now: datetime) -> Forecast:
    """The pace so far: when each route now on new (or retired) got there, since the
    migration's first flip."""
    flips = sorted(store.history(None, 100_000), key=lambda f: f.at)
    done = {route for route, mode in states if mode in DONE_MODES}
    reached: dict[str, datetime] = {}
    for flip in flips:
        if flip.route in done and flip.to_mode in DONE_MODES:
            reached[flip.route] = flip.at  # the latest move into a done mode
    started = flips[0].at if flips else now
    return forecast(list(reached.values()), len(states) - len(done), started=started, now=now)
