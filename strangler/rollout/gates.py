"""Flip gates: which flips need readiness, and the decision to refuse or let through.

A flip that sends MORE traffic to new (``canary`` with a higher percent, ``new``,
``retired``) goes through only when the route is ready, or when a person forces it with a
reason (the audit log records the blockers that were overridden). ``legacy -> shadow``
sends nothing more to new: shadowing only mirrors. While the kill switch is engaged no flip
may send more traffic to new, forced or not::

    >>> sends_more_to_new("shadow", None, "canary", Decimal("5"))
    True
    >>> sends_more_to_new("canary", Decimal("50"), "canary", Decimal("10"))
    False
"""

from __future__ import annotations

from decimal import Decimal

from strangler._errors import FlipRefused
from strangler.records import KillSwitchState
from strangler.rollout.readiness import Readiness

__all__ = ["KillSwitchState", "decide_flip", "new_share", "sends_more_to_new"]

_HUNDRED = Decimal(100)


def new_share(mode: str, percent: Decimal | None) -> tuple[Decimal, int]:
    """How much a mode relies on new: (percent of answers from new, legacy dropped 0/1).

    ``retired`` ranks above ``new``: legacy is no longer even called.
    """
    if mode == "canary":
        return (percent or Decimal(0), 0)
    if mode == "new":
        return (_HUNDRED, 0)
    if mode == "retired":
        return (_HUNDRED, 1)
    return (Decimal(0), 0)


def sends_more_to_new(
    from_mode: str, from_percent: Decimal | None, to_mode: str, to_percent: Decimal | None
) -> bool:
    """Whether the flip makes new answer more (or legacy stop answering)."""
    return new_share(to_mode, to_percent) > new_share(from_mode, from_percent)


def decide_flip(
    route: str,
    *,
    from_mode: str,
    from_percent: Decimal | None,
    to_mode: str,
    to_percent: Decimal | None,
    readiness: Readiness | None,
    kill_switch: KillSwitchState | None = None,
    force: bool = False,
) -> tuple[str, ...]:
    """Let a flip through or raise :class:`FlipRefused`; pure.

    Returns the blockers a forced flip overrode (empty when nothing was overridden), for the
    audit log. ``readiness`` is only looked at when the flip sends more traffic to new.
    """
    if not sends_more_to_new(from_mode, from_percent, to_mode, to_percent):
        return ()
    if kill_switch is not None and kill_switch.engaged:
        raise FlipRefused(
            route,
            [
                f"{kill_switch.describe()}; turn it off first "
                "(strangler kill-switch off --reason '...'); --force does not override it"
            ],
        )
    if readiness is None or readiness.ready:
        return ()
    if force:
        return readiness.blockers
    raise FlipRefused(route, readiness.blockers)
