"""A fixed-bucket latency histogram: cheap to add to, to store (a list of counts) and merge.

Percentiles are interpolated inside a bucket, so they are estimates within the bucket's
width (about 20% of the value at most with these bounds).

>>> h = LatencyHistogram()
>>> for ms in (1.0, 2.0, 3.0, 100.0):
...     h.add(ms)
>>> h.count, round(h.percentile(50), 1) <= 3.0, h.percentile(99) > 50
(4, True, True)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

__all__ = ["BOUNDS_MS", "LatencyHistogram"]

#: Upper bounds of the buckets in milliseconds (a last bucket takes everything above).
BOUNDS_MS: tuple[float, ...] = (
    0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80,
    100, 120, 150, 200, 250, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000,
    4000, 5000, 6000, 8000, 10000, 15000, 20000, 30000, 60000,
)  # fmt: skip


class LatencyHistogram:
    """Counts of latencies per bucket of :data:`BOUNDS_MS`."""

    __slots__ = ("counts",)

    def __init__(self, counts: Sequence[int] | None = None) -> None:
        size = len(BOUNDS_MS) + 1
        self.counts = [0] * size
        if counts:
            for i, c in enumerate(list(counts)[:size]):
                self.counts[i] = int(c)

    @classmethod
    def spread(cls, bounds_ms: Sequence[float], counts: Sequence[float]) -> LatencyHistogram:
        """The histogram of latencies counted over coarser buckets (Prometheus' ones).

        ``counts[i]`` is how many fell in ``(bounds_ms[i - 1], bounds_ms[i]]`` (the first from
        0, one more count above the last bound); each bound must be one of :data:`BOUNDS_MS`.
        A coarse count is shared among the buckets its range covers in proportion to their
        width (largest remainders first), so a percentile reads about as it would,
        interpolated, on the coarse buckets; the count above the last bound goes to the
        bucket right above it.

        >>> LatencyHistogram.spread((1.0,), (4, 1)).counts[:6]
        [1, 1, 1, 1, 1, 0]
        """
        out = cls()
        start = 0
        for i, n in enumerate(list(counts)[: len(bounds_ms) + 1]):
            stop = BOUNDS_MS.index(bounds_ms[i]) + 1 if i < len(bounds_ms) else start + 1
            out._share(range(start, stop), round(n))
            start = stop
        return out

    def _share(self, buckets: range, n: int) -> None:
        if len(buckets) == 1:
            self.counts[buckets[0]] += n
            return
        widths = [BOUNDS_MS[i] - (BOUNDS_MS[i - 1] if i else 0.0) for i in buckets]
        exact = [n * w / sum(widths) for w in widths]
        whole = [int(x) for x in exact]
        for k in sorted(range(len(whole)), key=lambda k: whole[k] - exact[k])[: n - sum(whole)]:
            whole[k] += 1
        for i, c in zip(buckets, whole, strict=True):
            self.counts[i] += c

    @property
    def count(self) -> int:
        return sum(self.counts)

    def add(self, ms: float) -> None:
        self.counts[bisect_left(BOUNDS_MS, ms)] += 1

    def merge(self, other: LatencyHistogram | Sequence[int]) -> None:
        counts = other.counts if isinstance(other, LatencyHistogram) else other
        for i, c in enumerate(list(counts)[: len(self.counts)]):
            self.counts[i] += int(c)

    def percentile(self, p: float) -> float | None:
        """The ``p``-th percentile in ms (None when empty)."""
        total = self.count
        if total == 0:
            return None
        rank = p / 100.0 * total
        seen = 0
        for i, c in enumerate(self.counts):
            if c and seen + c >= rank:
                low = BOUNDS_MS[i - 1] if i > 0 else 0.0
                high = BOUNDS_MS[i] if i < len(BOUNDS_MS) else BOUNDS_MS[-1] * 2
                return low + (high - low) * max(rank - seen, 0) / c
            seen += c
        return BOUNDS_MS[-1]

    def to_list(self) -> list[int]:
        return list(self.counts)
