"""The outcome of a verification: missing, extra and different rows, as values.

>>> Verification("orders", clean=True, legacy_rows=3, new_rows=3).as_json()["clean"]
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .keys import Key, encode_value

__all__ = ["ABSENT", "RowDiff", "Verification"]

ABSENT = object()  # a column the target row does not have


@dataclass(frozen=True, slots=True)
class RowDiff:
    """A target row that differs: ``columns`` maps each column to (expected, found)."""

    key: Key
    columns: dict[str, tuple[Any, Any]]


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of one verification (keys are target primary keys)."""

    mapping: str
    clean: bool
    legacy_rows: int
    new_rows: int
    missing: tuple[Key, ...] = ()
    extra: tuple[Key, ...] = ()
    different: tuple[RowDiff, ...] = ()
    ranges: int = 0
    mismatched_ranges: int = 0
    rechecked: int = 0
    repaired: bool = False
    sample: int | None = None
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self, limit: int = 100) -> dict[str, Any]:
        def k(key: Key) -> list[Any]:
            return [encode_value(v) for v in key]

        return {
            "mapping": self.mapping,
            "clean": self.clean,
            "legacy_rows": self.legacy_rows,
            "new_rows": self.new_rows,
            "missing": [k(x) for x in self.missing[:limit]],
            "extra": [k(x) for x in self.extra[:limit]],
            "different": [
                {
                    "key": k(d.key),
                    "columns": {
                        c: {"expected": _show(a), "found": _show(b)}
                        for c, (a, b) in d.columns.items()
                    },
                }
                for d in self.different[:limit]
            ],
            "counts": {
                "missing": len(self.missing),
                "extra": len(self.extra),
                "different": len(self.different),
            },
            "ranges": self.ranges,
            "mismatched_ranges": self.mismatched_ranges,
            "rechecked": self.rechecked,
            "repaired": self.repaired,
            "sample": self.sample,
            "seconds": round(self.seconds, 3),
        }


def _show(value: Any) -> Any:
    if value is ABSENT:
        return "(absent)"
    v = encode_value(value) if not isinstance(value, dict | list) else value
    return v if not isinstance(v, dict) else next(iter(v.values()))
