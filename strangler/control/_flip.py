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

from decimal import Decimal, InvalidOperation
from typing import Any

from strangler._errors import InvalidFlip, RouteError
from strangler.config import MODES, Config, RouteConfig
from strangler.control._evidence import gate_flip
from strangler.records import Flip
from strangler.store import Store

__all__ = ["describe_mode", "flip_route", "flip_to_json", "format_percent", "parse_percent"]

_STEP = Decimal("0.01")


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


def describe_mode(mode: str, percent: Decimal | None) -> str:
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
            rc.key, f"already in mode {describe_mode(to_mode, percent)}; nothing to change"
        )
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


def flip_to_json(flip: Flip) -> dict[str, Any]:
    """An audit-log entry as JSON-ready values (timestamps in ISO 8601 UTC)."""
    return flip.to_json()
