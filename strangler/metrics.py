"""The proxy's Prometheus metrics, in a registry of their own (never the global one).

Counting an answer is the hot path: it costs two dict lookups and two adds on plain
Python numbers (a collector turns them into Prometheus samples when scraped); the rarer
counters are ``prometheus_client`` counters with their labelled children cached::

    >>> m = ProxyMetrics()
    >>> m.request("GET /orgs/{slug}", "canary", "new", 200, 0.012)
    >>> m.value("strangler_requests_total", route="GET /orgs/{slug}", mode="canary",
    ...         side="new", status="2xx")
    1.0
    >>> b"strangler_requests_total" in m.exposition()
    True
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

__all__ = ["LATENCY_BUCKETS", "ProxyMetrics", "p99_from_buckets", "status_class"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_CLASSES = {n: f"{n}xx" for n in range(1, 6)}
_BOUNDS = [*(floatToGoString(b) for b in LATENCY_BUCKETS), "+Inf"]  # type: ignore[no-untyped-call]
_REQUEST_LABELS = ["route", "mode", "side", "status"]


def status_class(status: int) -> str:
    """``200`` -> ``"2xx"``."""
    return _CLASSES.get(status // 100, "other")


class _Answers:
    """``strangler_requests_total`` and ``strangler_request_seconds`` kept as plain numbers.

    prometheus_client's labelled Counter and Histogram take a lock per increment (four per
    answer); this proxy counts on its event loop only, and a scrape reads a copy.
    """

    def __init__(self) -> None:
        # (route, mode, side, status // 100) -> answers
        self.counts: dict[tuple[str, str, str, int], int] = {}
        # (route, side) -> [count per bucket of LATENCY_BUCKETS, count over the last, sum]
        self.latency: dict[tuple[str, str], list[float]] = {}

    def collect(self) -> Iterator[Metric]:
        counts = CounterMetricFamily(
            "strangler_requests", "Responses sent to clients", labels=_REQUEST_LABELS
        )
        merged: dict[tuple[str, str, str, str], int] = {}
        for (route, mode, side, hundreds), n in list(self.counts.items()):
            key = (route, mode, side, _CLASSES.get(hundreds, "other"))
            merged[key] = merged.get(key, 0) + n
        for labels, n in merged.items():
            counts.add_metric(list(labels), n)
        yield counts
        latency = HistogramMetricFamily(
            "strangler_request_seconds",
            "Seconds from the request to the end of the response",
            labels=["route", "side"],
        )
        for (route, side), row in list(self.latency.items()):
            row = list(row)
            running: float = 0.0
            buckets = []
            for bound, in_bucket in zip(_BOUNDS, row[:-1], strict=True):
                running += in_bucket
                buckets.append((bound, running))
            latency.add_metric([route, side], buckets, row[-1])
        yield latency


class ProxyMetrics:
    """Counters and a latency histogram for one proxy.

    - ``strangler_requests_total{route,mode,side,status}``: answers sent to clients
      (``status`` is the class, ``2xx``; ``side`` is ``proxy`` for the proxy's own errors)
    - ``strangler_fallbacks_total{route,reason}``: canary requests replayed on legacy
    - ``strangler_upstream_errors_total{route,backend,kind}``: connect errors, timeouts...
    - ``strangler_shadow_dropped_total{route,reason}``: shadow calls not made (over the
      body cap, too many in flight...), counted by the shadow runner
    - ``strangler_request_seconds{route,side}``: time to the end of the response
    - ``strangler_websocket_sessions_total{route,mode,side,outcome}``: WebSocket handshakes
      by how they ended (``accepted``, ``refused`` by the backend, ``error``: the backend
      could not be reached or cannot serve WebSockets; ``side`` is the backend asked)
    - ``strangler_websocket_open{route,side}``: WebSocket sessions relayed right now
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._answers = _Answers()
        self.registry.register(self._answers)
        self.fallbacks = Counter(
            "strangler_fallbacks",
            "Canary requests replayed on legacy after new failed",
            ["route", "reason"],
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "strangler_upstream_errors",
            "Backends that gave no answer",
            ["route", "backend", "kind"],
            registry=self.registry,
        )
        self.shadow_dropped = Counter(
            "strangler_shadow_dropped",
            "Shadow calls not made",
            ["route", "reason"],
            registry=self.registry,
        )
        self.websocket_sessions = Counter(
            "strangler_websocket_sessions",
            "WebSocket handshakes, by how they ended",
            ["route", "mode", "side", "outcome"],
            registry=self.registry,
        )
        self.websocket_open = Gauge(
            "strangler_websocket_open",
            "WebSocket sessions relayed right now",
            ["route", "side"],
            registry=self.registry,
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request(self, route: str, mode: str, side: str, status: int, seconds: float) -> None:
        """Count one answer and observe its latency."""
        answers = self._answers
        key = (route, mode, side, status // 100)
        counts = answers.counts
        counts[key] = counts.get(key, 0) + 1
        row = answers.latency.get((route, side))
        if row is None:
            row = answers.latency[(route, side)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        row[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        row[-1] += seconds

    def fallback(self, route: str, reason: str) -> None:
        self._child(self.fallbacks, route, reason).inc()

    def upstream_error(self, route: str, backend: str, kind: str) -> None:
        self._child(self.upstream_errors, route, backend, kind).inc()

    def dropped(self, route: str, reason: str) -> None:
        """Count a shadow call that was not made (for the shadow runner)."""
        self._child(self.shadow_dropped, route, reason).inc()

    def websocket_session(self, route: str, mode: str, side: str, outcome: str) -> None:
        """Count one WebSocket handshake: ``accepted``, ``refused`` or ``error``."""
        self._child(self.websocket_sessions, route, mode, side, outcome).inc()

    def websocket_opened(self, route: str, side: str) -> None:
        self._child(self.websocket_open, route, side).inc()

    def websocket_closed(self, route: str, side: str) -> None:
        self._child(self.websocket_open, route, side).dec()

    def value(self, name: str, **labels: str) -> float:
        """The current value of one sample (0.0 if never counted); handy in tests and the CLI."""
        found = self.registry.get_sample_value(name, labels)
        return float(found) if found is not None else 0.0

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


def p99_from_buckets(buckets: Sequence[tuple[float, float]], q: float = 0.99) -> float | None:
    """The ``q`` quantile (seconds) of a cumulative histogram, interpolated in its bucket.

    >>> p99_from_buckets([(0.1, 90.0), (1.0, 100.0), (math.inf, 100.0)])
    0.91
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if math.isinf(le):
                return lower_bound  # beyond the last finite bound: report that bound
            span = count - lower_count
            share = (rank - lower_count) / span if span > 0 else 1.0
            return round(lower_bound + (le - lower_bound) * share, 6)
        lower_bound, lower_count = le, count
    return ordered[-1][0]
