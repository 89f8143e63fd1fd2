"""Legacy and new interleaved: short alternating blocks, so load drift hits both sides alike.

Run one side after the other and a machine whose load drifts (another job, a CPU that
heats, a neighbour's build) makes the second side look slower or faster than it is: two
copies of one service failed the gate at p=1e-52. So the load child runs the targets in
rounds of one short block each, the order reversed every other round (A B, B A, A B, ...):
a steady drift then adds as much to every side, and each side's figures are the sum of
its blocks (:class:`Tally`).

    >>> [(t, round(s, 2)) for t, s in schedule(4.0, 2.0, 2)]
    [(0, 2.0), (1, 2.0), (1, 2.0), (0, 2.0)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Tally", "schedule"]


def schedule(duration: float, block: float, targets: int) -> list[tuple[int, float]]:
    """``(target index, seconds)`` in running order: each target gets ``duration`` seconds
    in blocks of about ``block`` seconds; rounds alternate their order (ABBA)."""
    rounds = max(1, math.ceil(duration / block - 1e-9)) if block > 0 else 1
    each = duration / rounds
    out: list[tuple[int, float]] = []
    for r in range(rounds):
        order = range(targets) if r % 2 == 0 else range(targets - 1, -1, -1)
        out.extend((i, each) for i in order)
    return out


@dataclass(slots=True)
class Tally:
    """One target's locust figures summed over its blocks (locust clears them per block)."""

    entries: dict[tuple[str, str], Any] = field(default_factory=dict)
    errors: dict[tuple[str, str], int] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def add_block(self, stats: Any, seconds: float, cpu_seconds: float) -> None:
        """Fold in one block's ``env.stats`` (a locust RequestStats) before it is cleared."""
        from locust.stats import StatsEntry

        for key, entry in stats.entries.items():
            mine = self.entries.get(key)
            if mine is None:
                mine = StatsEntry(stats, key[0], key[1], use_response_times_cache=False)
                self.entries[key] = mine
            mine.extend(entry)
        for error in stats.errors.values():
            key = (str(error.name), str(error.error))
            self.errors[key] = self.errors.get(key, 0) + int(error.occurrences)
        self.seconds += seconds
        self.cpu_seconds += cpu_seconds

    def requests(self) -> int:
        return sum(int(e.num_requests) for e in self.entries.values())

    def failures(self) -> int:
        return sum(int(e.num_failures) for e in self.entries.values())

    def top_errors(self) -> list[dict[str, Any]]:
        ranked = sorted(self.errors.items(), key=lambda kv: -kv[1])[:10]
        return [{"route": n, "error": e, "occurrences": c} for (n, e), c in ranked]
