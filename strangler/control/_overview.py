"""The routes' live state next to what the config file says (``strangler routes``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from strangler.config import Config
from strangler.control._flip import describe_mode
from strangler.records import Flip, RouteState
from strangler.store import Store

__all__ = ["CATCH_ALL_MODE", "RouteStatus", "RoutesOverview", "build_overview", "routes_overview"]

CATCH_ALL_MODE = "legacy"
"""Requests that match no route are always served by legacy."""


@dataclass(frozen=True, slots=True)
class RouteStatus:
    """One route as it is served now, next to what the config file says."""

    route: str
    mode: str
    percent: Decimal | None
    sticky: str | None
    config_mode: str | None
    config_percent: Decimal | None
    held: bool
    last_flip: Flip | None

    @property
    def in_config(self) -> bool:
        return self.config_mode is not None

    @property
    def differs(self) -> bool:
        """The live mode is not the file's (it was flipped since)."""
        return self.in_config and (self.mode, self.percent) != (
            self.config_mode,
            self.config_percent,
        )

    @property
    def note(self) -> str:
        if not self.in_config:
            return "not in config (falls to catch-all), history kept"
        if self.differs:
            assert self.config_mode is not None
            return f"live differs from config: config says {describe_mode(self.config_mode, self.config_percent)}"
        return ""

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "mode": self.mode,
            "percent": _num(self.percent),
            "sticky": self.sticky,
            "in_config": self.in_config,
            "config_mode": self.config_mode,
            "config_percent": _num(self.config_percent),
            "differs_from_config": self.differs,
            "held": self.held,
            "note": self.note,
            "last_flip": self.last_flip.to_json() if self.last_flip else None,
        }


@dataclass(frozen=True, slots=True)
class RoutesOverview:
    """Every route with its live state, the state version, and the catch-all."""

    version: int
    routes: tuple[RouteStatus, ...]
    catch_all_mode: str = CATCH_ALL_MODE

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "routes": [r.to_json() for r in self.routes],
            "catch_all": {"mode": self.catch_all_mode},
        }


def routes_overview(config: Config, store: Store) -> RoutesOverview:
    """The config's routes in file order with their live state, then the store's routes
    that left the config."""
    version = store.version()
    states = store.live_states()
    flips = store.flips_by_id(s.last_flip_id for s in states.values() if s.last_flip_id)
    return build_overview(config, version, states, flips)


def build_overview(
    config: Config, version: int, states: dict[str, RouteState], flips: dict[int, Flip]
) -> RoutesOverview:
    """The pure part of :func:`routes_overview`."""
    out: list[RouteStatus] = []
    for rc in config.routes:
        cfg_percent = rc.percent if rc.mode == "canary" else None
        st = states.get(rc.key)
        mode = st.mode if st else rc.mode
        percent = (st.percent if st else cfg_percent) if mode == "canary" else None
        out.append(
            RouteStatus(
                route=rc.key,
                mode=mode,
                percent=percent,
                sticky=str(rc.sticky) if rc.sticky else None,
                config_mode=rc.mode,
                config_percent=cfg_percent,
                held=bool(st and st.held),
                last_flip=flips.get(st.last_flip_id) if st and st.last_flip_id else None,
            )
        )
    declared = {rc.key for rc in config.routes}
    for key in sorted(set(states) - declared):
        st = states[key]
        out.append(
            RouteStatus(
                route=key,
                mode=st.mode,
                percent=st.percent if st.mode == "canary" else None,
                sticky=None,
                config_mode=None,
                config_percent=None,
                held=st.held,
                last_flip=flips.get(st.last_flip_id) if st.last_flip_id else None,
            )
        )
    return RoutesOverview(version=version, routes=tuple(out))


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
