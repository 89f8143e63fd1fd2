"""What a comparison found: field-level differences, a severity, and the verdict.

Severity orders what matters most: a different status or error class, then the shape of
the answer (a missing field, a changed type), then a value, then a field only the new side
added::

    >>> Severity.STATUS > Severity.SCHEMA > Severity.VALUE > Severity.ADDED
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any, Literal

__all__ = [
    "KIND_SEVERITY",
    "Difference",
    "DifferenceKind",
    "Outcome",
    "Severity",
    "Verdict",
]

DifferenceKind = Literal[
    "status", "error", "auth", "header", "framing", "missing", "added", "type", "value"
]
Outcome = Literal["match", "noise", "mismatch", "not_compared"]


class Severity(IntEnum):
    """How much a difference matters (higher is worse)."""

    ADDED = 1
    VALUE = 2
    SCHEMA = 3
    STATUS = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


KIND_SEVERITY: dict[str, Severity] = {
    "status": Severity.STATUS,
    "error": Severity.STATUS,
    "auth": Severity.STATUS,
    "missing": Severity.SCHEMA,
    "type": Severity.SCHEMA,
    "header": Severity.VALUE,
    "value": Severity.VALUE,
    "added": Severity.ADDED,
    "framing": Severity.ADDED,  # Content-Length against chunked: rarely matters to a client
}


@dataclass(frozen=True, slots=True)
class Difference:
    """One place where the answers differ.

    ``path`` is concrete (``$.items[3].price``), ``field`` generalised
    (``$.items[*].price``; for headers ``header:content-type``); ``legacy``/``new`` hold
    the two values (``None`` for the missing side).
    """

    path: str
    kind: DifferenceKind
    legacy: Any = None
    new: Any = None
    field: str = ""

    @property
    def severity(self) -> Severity:
        return KIND_SEVERITY[self.kind]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "field": self.field or self.path,
            "kind": self.kind,
            "severity": self.severity.label,
            "legacy": self.legacy,
            "new": self.new,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of comparing two answers.

    ``differences`` are the real ones; ``noise`` the ones explained by nondeterminism of
    legacy itself; ``reason`` says why an exchange was not compared (or is a short note).
    """

    outcome: Outcome
    differences: tuple[Difference, ...] = ()
    noise: tuple[Difference, ...] = ()
    reason: str = ""
    truncated: bool = False
    notes: tuple[str, ...] = field(default=())
    undecided: frozenset[str] = frozenset()
    """Fields of real differences that noise learning had not decided yet (``unconfirmed``
    when classified): the report turns them into noise if the field is learned as noise."""

    @property
    def severity(self) -> Severity | None:
        """The worst severity among the real differences (None when there is none)."""
        if not self.differences:
            return None
        return max(d.severity for d in self.differences)

    @property
    def fields(self) -> tuple[str, ...]:
        """The distinct generalised fields of the real differences, worst first."""
        ordered = sorted(self.differences, key=lambda d: -d.severity)
        return tuple(dict.fromkeys(d.field or d.path for d in ordered))

    @classmethod
    def of(cls, differences: list[Difference], *, truncated: bool = False) -> Verdict:
        if differences:
            return cls("mismatch", tuple(differences), truncated=truncated)
        return cls("match", truncated=truncated)

    @classmethod
    def not_compared(cls, reason: str) -> Verdict:
        return cls("not_compared", reason=reason)

    def with_noise(
        self,
        real: list[Difference],
        noise: list[Difference],
        undecided: frozenset[str] = frozenset(),
    ) -> Verdict:
        """This verdict with its differences split into real ones and noise."""
        if self.outcome not in ("mismatch", "noise"):
            return self
        outcome: Outcome = "mismatch" if real else ("noise" if noise else "match")
        return replace(
            self,
            outcome=outcome,
            differences=tuple(real),
            noise=tuple(noise),
            undecided=undecided if real else frozenset(),
        )

    def to_json(self) -> dict[str, Any]:
        severity = self.severity
        return {
            "outcome": self.outcome,
            "severity": severity.label if severity else None,
            "reason": self.reason,
            "differences": [d.to_json() for d in self.differences],
            "noise": [d.to_json() for d in self.noise],
            "truncated": self.truncated,
        }
