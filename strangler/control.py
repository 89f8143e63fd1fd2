"""The control plane's typed operations: flip a route, read the routes' live state.

The ``strangler flip|routes|history`` commands and the admin API are thin shells over
these functions; the readiness gates plug into :func:`flip_route`, the one place a flip is
decided::

    >>> cfg = load_config("strangler.yaml")                       # doctest: +SKIP
    >>> store = open_store(cfg)                                   # doctest: +SKIP
    >>> flip_route(cfg, store, "GET /orgs/{slug}", "canary", Decimal("5"),
    ...            reason="first 5% of users")                   # doctest: +SKIP
    Flip(id=1, route='GET /orgs/{slug}', ..., from_mode='legacy', to_mode='canary', ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from strangler._errors import InvalidFlip, RouteError, StoreError
from strangler.config import MODES, Config, RouteConfig
from strangler.store import Flip, RouteState, Store, current_revision, head_revision

__all__ = [
    "CATCH_ALL_MODE",
    "RouteStatus",
    "RoutesOverview",
    "build_overview",
    "flip_route",
    "flip_to_json",
    "format_percent",
    "open_store",
    "parse_percent",
    "routes_overview",
]

CATCH_ALL_MODE = "legacy"
"""Requests that match no route are always served by legacy."""

_STEP = Decimal("0.01")


def open_store(config: Config, *, upgrade: bool = True) -> Store:
    """The config's store, its schema upgraded to the newest revision when behind.

    Several processes may start at once on a fresh store: when one of them loses the race
    to create the schema, it accepts the winner's work.
    """
    store = Store(config.store)
    if upgrade:
        try:
            store.ensure_schema()
        except StoreError:
            if current_revision(config.store) != head_revision():
                store.close()
                raise
    return store


def parse_percent(route: str, text: str | float | Decimal | None) -> Decimal | None:
    """A canary percent from user input: 0 to 100 in steps of 0.01.

    >>> parse_percent("GET /a", "12.5")
    Decimal('12.5')
    """
    if text is None:
        return None
    try:
        value = Decimal(str(text).strip().removesuffix("%"))
    except InvalidOperation:
        raise InvalidFlip(route, f"--percent {text!r} is not a number (0 to 100)") from None
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise InvalidFlip(route, f"--percent {text!r} must be from 0 to 100")
    if value != value.quantize(_STEP):
        raise InvalidFlip(route, f"--percent {text!r}: steps of 0.01 (e.g. 12.5 or 0.25)")
    return value


def format_percent(value: Decimal | None) -> str:
    """``Decimal('12.50')`` -> ``'12.5%'``; empty for None."""
    if value is None:
        return ""
    text = f"{value.normalize():f}"
    return f"{text}%"


def _find_route(config: Config, route: str) -> RouteConfig:
    try:
        return config.route(route)
    except ValueError:  # not even 'METHODS /path'
        raise RouteError(route, [r.key for r in config.routes]) from None


def _describe(mode: str, percent: Decimal | None) -> str:
    return f"{mode} {format_percent(percent)}" if mode == "canary" else mode


def flip_route(
    config: Config,
    store: Store,
    route: str,
    to_mode: str,
    percent: Decimal | None,
    reason: str,
    actor: str | None = None,
    force: bool = False,
) -> Flip:
    """Validate and record a flip of ``route``; every running proxy picks it up.

    Raises :class:`RouteError` for a route the config does not declare and
    :class:`InvalidFlip` for a bad mode or percent, a missing reason, or a flip to the mode
    the route already has. ``force`` is recorded in the audit log (readiness gates, when
    configured, are checked here and skipped only with ``force``).
    """
    rc = _find_route(config, route)
    if to_mode not in MODES:
        raise InvalidFlip(rc.key, f"unknown mode {to_mode!r}; use one of {', '.join(MODES)}")
    if to_mode == "canary" and percent is None:
        raise InvalidFlip(rc.key, "mode canary needs --percent (0 to 100, e.g. --percent 5)")
    if to_mode != "canary" and percent is not None:
        raise InvalidFlip(rc.key, f"--percent applies to mode canary only, not {to_mode}")
    percent = parse_percent(rc.key, percent)
    if not reason or not reason.strip():
        raise InvalidFlip(rc.key, "a reason is required (--reason '...'); the audit log keeps it")
    live = store.live_states().get(rc.key)
    current_mode = live.mode if live else rc.mode
    current_percent = live.percent if live else rc.percent
    if current_mode != "canary":
        current_percent = None
    if (current_mode, current_percent) == (to_mode, percent):
        raise InvalidFlip(
            rc.key, f"already in mode {_describe(to_mode, percent)}; nothing to change"
        )
    from strangler.rollout.evidence import gate_flip  # rollout reads control's helpers

    overridden = gate_flip(
        config,
        store,
        rc.key,
        from_mode=current_mode,
        from_percent=current_percent,
        to_mode=to_mode,
        to_percent=percent,
        force=force,
    )
    why = reason.strip()
    if overridden:
        why += " [forced past: " + "; ".join(overridden) + "]"
    return store.flip(
        rc.key,
        initial_mode=rc.mode,
        initial_percent=rc.percent if rc.mode == "canary" else None,
        to_mode=to_mode,
        to_percent=percent,
        reason=why,
        actor=actor,
        forced=force,
    )


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
            return f"live differs from config: config says {_describe(self.config_mode, self.config_percent)}"
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
            "last_flip": flip_to_json(self.last_flip) if self.last_flip else None,
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


def flip_to_json(flip: Flip) -> dict[str, Any]:
    """An audit-log entry as JSON-ready values (timestamps in ISO 8601 UTC)."""
    return {
        "id": flip.id,
        "route": flip.route,
        "at": flip.at.isoformat(),
        "actor": flip.actor,
        "from_mode": flip.from_mode,
        "from_percent": _num(flip.from_percent),
        "to_mode": flip.to_mode,
        "to_percent": _num(flip.to_percent),
        "reason": flip.reason,
        "forced": flip.forced,
        "automatic": flip.automatic,
    }
