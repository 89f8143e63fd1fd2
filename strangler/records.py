"""The control plane's records as plain values: a route's live state, a flip, a piece of
evidence, the kill switch's position.

The store reads and writes them; routing, readiness and the CLI work on them without
loading the store (or SQLAlchemy)::

    >>> RouteState("GET /a", "canary", Decimal("5"), False, datetime(2026, 1, 1), 7).mode
    'canary'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = [
    "Evidence",
    "Flip",
    "KillSwitchState",
    "RouteState",
    "SideTotals",
    "TrafficPoint",
    "WindowStats",
]


@dataclass(frozen=True, slots=True)
class RouteState:
    """The live mode of a flipped route."""

    route: str
    mode: str
    percent: Decimal | None
    held: bool
    updated_at: datetime
    last_flip_id: int | None


@dataclass(frozen=True, slots=True)
class Flip:
    """One entry of the audit log."""

    id: int
    route: str
    at: datetime
    actor: str
    from_mode: str
    to_mode: str
    from_percent: Decimal | None
    to_percent: Decimal | None
    reason: str
    forced: bool
    automatic: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-ready values (timestamps in ISO 8601 UTC, percents as numbers)."""
        return {
            "id": self.id,
            "route": self.route,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "from_mode": self.from_mode,
            "from_percent": _num(self.from_percent),
            "to_mode": self.to_mode,
            "to_percent": _num(self.to_percent),
            "reason": self.reason,
            "forced": self.forced,
            "automatic": self.automatic,
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    """A stored result readiness reads (kind ``parity``, ``load`` or ``data``)."""

    id: int
    kind: str
    route: str | None
    subject: str
    at: datetime
    passed: bool
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    """The global kill switch: when engaged every route was sent to legacy."""

    engaged: bool
    at: datetime | None = None
    actor: str = ""
    reason: str = ""

    def describe(self) -> str:
        if not self.engaged:
            return "kill switch off"
        when = f" since {self.at:%Y-%m-%d %H:%M:%S} UTC" if self.at else ""
        return f"kill switch on{when} by {self.actor or '?'}: {self.reason or 'no reason given'}"

    def to_json(self) -> dict[str, Any]:
        return {
            "engaged": self.engaged,
            "at": self.at.isoformat() if self.at else None,
            "actor": self.actor,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class WindowStats:
    """A route's traffic over the readiness window (both sides, shadow verdicts, latency)."""

    compared: int = 0
    matched: int = 0
    noise: int = 0
    mismatched: int = 0
    legacy_requests: int = 0
    legacy_errors: int = 0
    new_requests: int = 0
    new_errors: int = 0
    legacy_p99_ms: float | None = None
    new_p99_ms: float | None = None
    auth_refused: int = 0  # of the mismatched: refused (401/403) by one side only

    @property
    def parity(self) -> float | None:
        """Share of compared requests that agree; learned noise counts as agreeing."""
        if self.compared <= 0:
            return None
        return (self.compared - self.mismatched) / self.compared

    @property
    def legacy_error_rate(self) -> float | None:
        return self.legacy_errors / self.legacy_requests if self.legacy_requests else None

    @property
    def new_error_rate(self) -> float | None:
        return self.new_errors / self.new_requests if self.new_requests else None

    @property
    def p99_ratio(self) -> float | None:
        if not self.legacy_p99_ms or self.new_p99_ms is None:
            return None
        return self.new_p99_ms / self.legacy_p99_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "matched": self.matched,
            "noise": self.noise,
            "mismatched": self.mismatched,
            "parity": self.parity,
            "legacy": {
                "requests": self.legacy_requests,
                "errors": self.legacy_errors,
                "error_rate": self.legacy_error_rate,
                "p99_ms": self.legacy_p99_ms,
            },
            "new": {
                "requests": self.new_requests,
                "errors": self.new_errors,
                "error_rate": self.new_error_rate,
                "p99_ms": self.new_p99_ms,
            },
        }


@dataclass(frozen=True, slots=True)
class SideTotals:
    """Answers served to clients by each side."""

    legacy: int = 0
    new: int = 0

    @property
    def share_new(self) -> float | None:
        total = self.legacy + self.new
        return self.new / total if total else None


@dataclass(frozen=True, slots=True)
class TrafficPoint:
    """Answers served by each side in one period starting at ``start``."""

    start: datetime
    legacy: int
    new: int

    @property
    def share_new(self) -> float | None:
        return SideTotals(self.legacy, self.new).share_new

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "legacy": self.legacy,
            "new": self.new,
            "share_new": self.share_new,
        }


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
