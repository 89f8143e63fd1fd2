"""The sum of several worker processes' metric families (pure: plain values in and out).

Each worker of ``strangler serve --workers N`` counts only what it served. One view for the
whole proxy adds them up, sample by sample (same metric name and labels)::

    >>> a = Metric("strangler_fallbacks", "Canary requests replayed", "counter")
    >>> a.add_sample("strangler_fallbacks_total", {"route": "GET /x"}, 3.0)
    >>> b = Metric("strangler_fallbacks", "Canary requests replayed", "counter")
    >>> b.add_sample("strangler_fallbacks_total", {"route": "GET /x"}, 4.0)
    >>> merged = merge_families([Share(1, True, (a,)), Share(2, False, (b,))])
    >>> [(s.name, s.value) for s in merged[0].samples]
    [('strangler_fallbacks_total', 7.0)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.core import Metric
from prometheus_client.samples import Sample

__all__ = ["Share", "merge_families", "requests_in"]

# Kinds whose samples only ever grow while their worker lives: a worker that is gone keeps
# its last values in the sum, so the whole proxy's counters never go backwards.
_ACCUMULATING = frozenset({"counter", "histogram", "summary", "unknown"})


@dataclass(frozen=True, slots=True)
class Share:
    """One worker's metric families; ``alive`` is False once its process is gone."""

    pid: int | None
    alive: bool
    families: tuple[Metric, ...]


def merge_families(shares: Iterable[Share]) -> list[Metric]:
    """One family per metric name, each sample the sum over ``shares``.

    Counters, histogram buckets, sums and counts are added over every share, the gone ones
    included; gauges (what is true right now, e.g. WebSocket sessions open) only over the
    shares still alive; ``*_created`` keeps the earliest; info and stateset samples (what
    is, not how many) the largest. Samples keep the order in which they were first met, so
    a histogram's buckets stay together.
    """
    heads: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, frozenset[tuple[str, str]]], float]] = {}
    for share in shares:
        for family in share.families:
            head = heads.get(family.name)
            if head is None:
                head = heads[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit
                )
                values[family.name] = {}
            kind = head.type
            if kind == "gauge" and not share.alive:
                continue
            adds = kind in _ACCUMULATING or kind == "gauge"
            created = family.name + "_created"
            sums = values[family.name]
            get = sums.get
            # the hot loop of a rollback check on the leader: a few thousand samples a worker
            # (a Sample is a tuple: unpacking it is cheaper than reading its attributes)
            for sample_name, labels, value, *_ in family.samples:
                key = (sample_name, frozenset(labels.items()))
                old = get(key)
                if old is None:
                    sums[key] = value
                elif sample_name == created:
                    sums[key] = min(old, value)  # when the series first existed anywhere
                elif adds:
                    sums[key] = old + value
                else:
                    sums[key] = max(old, value)
    merged: list[Metric] = []
    for name, head in heads.items():
        head.samples = [Sample(n, dict(labels), v) for (n, labels), v in values[name].items()]
        merged.append(head)
    return merged


def requests_in(families: Iterable[Metric]) -> int:
    """The answers ``strangler_requests_total`` counted in ``families`` (every label)."""
    return round(
        sum(
            sample.value
            for family in families
            for sample in family.samples
            if sample.name == "strangler_requests_total"
        )
    )
