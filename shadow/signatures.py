"""Mismatch signatures: early verdicts corrected once noise is learned.

A route's first requests are compared before noise learning has decided its fields: a
timestamp that legacy itself varies is then a real difference, ``unconfirmed``. Counting
those exchanges as mismatches for good would leave a route's match rate wrong long after
the field was learned as noise. So the recorder keeps, per route and minute, how many
mismatched exchanges differed in each *set* of fields (a signature), marking the fields
that were undecided when the exchange was classified, and how legacy was seen to differ
from itself (the kinds, per field). Reading them back, :func:`reclassify` turns into noise
every exchange whose differences were all undecided and are now all learned noise of the
same kind; an exchange with one decided real difference, or a difference of another kind
(a timestamp that became null), stays a mismatch.

>>> sigs = Signatures()
>>> sigs.add(Verdict("mismatch", (Difference("$.at", "value", 1, 2, "$.at"),),
...                  undecided=frozenset({"$.at"})))
>>> sigs.learn_kinds([Difference("$.at", "value", 1, 3, "$.at")])
>>> out = reclassify(sigs.to_json(), {"$.at": "noise"}.get)
>>> out.noise, out.removed
(1, {'value': 1})
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shadow.noise import FieldCounts, NoiseThresholds, field_status
from shadow.verdict import Difference, Verdict

__all__ = ["MAX_SIGNATURES", "Reclassified", "Signatures", "reclassify", "reclassify_counts"]

MAX_SIGNATURES = 64
"""Distinct signatures kept per route and minute; more are counted under ``*`` (kept as
mismatches: a flood of distinct field sets is no early-learning artefact)."""

_OTHER = "*"


def _signature(verdict: Verdict) -> str:
    entries = {
        f"{'?' if (d.field or d.path) in verdict.undecided else '!'}{d.kind}|{d.field or d.path}"
        for d in verdict.differences
    }
    return "\n".join(sorted(entries))


@dataclass(slots=True)
class Signatures:
    """The signatures of one route's minute, built by the recorder (one owner)."""

    mismatches: dict[str, list[Any]] = field(default_factory=dict)  # key -> [count, severity]
    noise_kinds: dict[str, set[str]] = field(default_factory=dict)

    def add(self, verdict: Verdict) -> None:
        """Count one mismatched exchange under its signature."""
        key = _signature(verdict)
        severity = verdict.severity
        label = severity.label if severity is not None else "value"
        slot = self.mismatches.get(key)
        if slot is None:
            if len(self.mismatches) >= MAX_SIGNATURES:
                key = _OTHER
                slot = self.mismatches.get(key)
            if slot is None:
                slot = self.mismatches[key] = [0, label]
        slot[0] += 1
        if _RANK.get(label, 0) > _RANK.get(slot[1], 0):
            slot[1] = label

    def learn_kinds(self, legacy_vs_legacy: Iterable[Difference]) -> None:
        """Remember how legacy differed from itself (a noise sample's differences)."""
        for d in legacy_vs_legacy:
            self.noise_kinds.setdefault(d.field or d.path, set()).add(d.kind)

    def __bool__(self) -> bool:
        return bool(self.mismatches or self.noise_kinds)

    def to_json(self) -> dict[str, Any]:
        return {
            "mismatches": {k: list(v) for k, v in self.mismatches.items()},
            "noise_kinds": {k: sorted(v) for k, v in self.noise_kinds.items()},
        }

    def merge_json(self, stored: Mapping[str, Any] | None) -> None:
        """Add a stored ``to_json()`` document into this one."""
        if not stored:
            return
        for key, (count, label) in (stored.get("mismatches") or {}).items():
            slot = self.mismatches.get(key)
            if slot is None and len(self.mismatches) >= MAX_SIGNATURES and key != _OTHER:
                key = _OTHER
                slot = self.mismatches.get(key)
            if slot is None:
                slot = self.mismatches[key] = [0, label]
            slot[0] += int(count)
            if _RANK.get(label, 0) > _RANK.get(slot[1], 0):
                slot[1] = label
        for name, kinds in (stored.get("noise_kinds") or {}).items():
            self.noise_kinds.setdefault(name, set()).update(kinds)


_RANK = {"added": 1, "value": 2, "schema": 3, "status": 4}


@dataclass(frozen=True, slots=True)
class Reclassified:
    """What learning changed: exchanges now noise, and those still only undecided."""

    noise: int = 0
    unconfirmed: int = 0
    removed: dict[str, int] = field(default_factory=dict)  # severity label -> exchanges
    by_field: dict[str, int] = field(default_factory=dict)  # field -> exchanges now noise


def reclassify(
    stored: Mapping[str, Any] | None, status: Callable[[str], str | None]
) -> Reclassified:
    """Correct a route's stored mismatches with what is learned now.

    ``stored`` is a merged :meth:`Signatures.to_json` document; ``status(field)`` is the
    field's status now (``noise``, ``real``, ``unconfirmed``, or None when unknown).
    """
    if not stored:
        return Reclassified()
    kinds: Mapping[str, Iterable[str]] = stored.get("noise_kinds") or {}
    noise = unconfirmed = 0
    removed: dict[str, int] = {}
    by_field: dict[str, int] = {}
    for key, (count, label) in (stored.get("mismatches") or {}).items():
        if key == _OTHER:
            continue
        entries = [e.split("|", 1) for e in key.split("\n")]
        if any(flag_kind[0] != "?" for flag_kind, _ in entries):
            continue  # decided real when classified: stays a mismatch
        # each difference now: learned noise of the kind legacy shows, still pending, or real
        now = [
            "noise"
            if (s := status(name)) == "noise" and flag_kind[1:] in kinds.get(name, ())
            else ("pending" if s in ("unconfirmed", None) else "real")
            for flag_kind, name in entries
        ]
        if all(n == "noise" for n in now):
            noise += count
            removed[label] = removed.get(label, 0) + count
            for _, name in entries:
                by_field[name] = by_field.get(name, 0) + count
        elif "real" not in now:
            unconfirmed += count
    return Reclassified(noise, unconfirmed, removed, by_field)


def reclassify_counts(
    stored: Mapping[str, Any] | None,
    fields: Mapping[str, tuple[int, int]],
    *,
    samples: int,
    compared: int,
    thresholds: NoiseThresholds = NoiseThresholds(),
) -> Reclassified:
    """:func:`reclassify` with the field statuses computed from stored counts:
    ``fields`` maps a field to ``(legacy_legacy, legacy_new)`` over the same window."""
    if not stored or not stored.get("mismatches"):
        return Reclassified()

    def status(name: str) -> str | None:
        counts = fields.get(name)
        if counts is None:
            return None
        return field_status(
            FieldCounts(counts[0], counts[1]),
            samples=samples,
            compared=compared,
            thresholds=thresholds,
        )

    return reclassify(stored, status)
