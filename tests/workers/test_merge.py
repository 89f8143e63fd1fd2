"""Summing workers' metric families: what a Prometheus scrape of the whole proxy shows."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from strangler.metrics import ProxyMetrics
from strangler.rollback_monitor import read_counters
from strangler.workers import Share, merge_families, requests_in

ROUTE = "GET /orgs/{slug}"


def _worker(answers: dict[tuple[str, int], int], *, fallbacks: int = 0) -> ProxyMetrics:
    m = ProxyMetrics()
    for (side, status), n in answers.items():
        for _ in range(n):
            m.request(ROUTE, "canary", side, status, 0.004)
    for _ in range(fallbacks):
        m.fallback(ROUTE, "status_5xx")
    return m


def _share(pid: int, alive: bool, m: ProxyMetrics) -> Share:
    return Share(pid, alive, tuple(m.registry.collect()))


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def _scrape(families: list[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The merged view through the real exposition and prometheus_client's own parser."""
    text = generate_latest(_Families(families)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counters_and_histograms_add_up_over_live_and_gone_workers() -> None:
    a = _worker({("new", 200): 5, ("legacy", 200): 7, ("new", 500): 1}, fallbacks=1)
    b = _worker({("new", 200): 3, ("legacy", 200): 4}, fallbacks=2)
    gone = _worker({("legacy", 200): 10})
    merged = merge_families([_share(1, True, a), _share(2, True, b), _share(3, False, gone)])

    scraped = _scrape(merged)
    new_2xx = (("mode", "canary"), ("route", ROUTE), ("side", "new"), ("status", "2xx"))
    legacy_2xx = (("mode", "canary"), ("route", ROUTE), ("side", "legacy"), ("status", "2xx"))
    assert scraped[("strangler_requests_total", new_2xx)] == 8
    assert scraped[("strangler_requests_total", legacy_2xx)] == 21
    fallbacks = (("reason", "status_5xx"), ("route", ROUTE))
    assert scraped[("strangler_fallbacks_total", fallbacks)] == 3
    count = (("route", ROUTE), ("side", "legacy"))
    assert scraped[("strangler_request_seconds_count", count)] == 21
    assert scraped[("strangler_request_seconds_bucket", (("le", "+Inf"), *count))] == 21
    assert requests_in(merged) == 30

    # the rollback monitor judges the sum: every worker's attempts and errors on new
    counters = read_counters(_Families(merged))[ROUTE]
    assert (counters.new.served, counters.new.requests, counters.new.errors) == (9, 12, 4)
    assert counters.legacy.served == 21


def test_a_histogram_keeps_its_buckets_together_and_in_order() -> None:
    a = _worker({("new", 200): 2})
    b = _worker({("legacy", 200): 1})  # a label set only the second worker has
    merged = merge_families([_share(1, True, a), _share(2, True, b)])
    latency = next(f for f in merged if f.name == "strangler_request_seconds")
    sides = [s.labels["side"] for s in latency.samples]
    first_legacy = sides.index("legacy")
    assert set(sides[:first_legacy]) == {"new"}
    assert set(sides[first_legacy:]) == {"legacy"}
    legacy = [s for s in latency.samples if s.labels["side"] == "legacy"]
    bounds = [s.labels["le"] for s in legacy if "le" in s.labels]
    assert bounds[-1] == "+Inf"
    assert [float(b) for b in bounds] == sorted(float(b) for b in bounds)


def test_gauges_count_only_workers_that_are_alive() -> None:
    a, b = ProxyMetrics(), ProxyMetrics()
    a.websocket_opened(ROUTE, "legacy")
    b.websocket_opened(ROUTE, "legacy")
    b.websocket_opened(ROUTE, "legacy")
    labels = (("route", ROUTE), ("side", "legacy"))
    both = _scrape(merge_families([_share(1, True, a), _share(2, True, b)]))
    assert both[("strangler_websocket_open", labels)] == 3
    # the second worker died: its sessions died with it
    one = _scrape(merge_families([_share(1, True, a), _share(2, False, b)]))
    assert one[("strangler_websocket_open", labels)] == 1


def test_created_keeps_the_earliest_time() -> None:
    a = Metric("strangler_fallbacks", "Canary requests replayed", "counter")
    a.add_sample("strangler_fallbacks_total", {"route": ROUTE}, 1.0)
    a.add_sample("strangler_fallbacks_created", {"route": ROUTE}, 200.0)
    b = Metric("strangler_fallbacks", "Canary requests replayed", "counter")
    b.add_sample("strangler_fallbacks_total", {"route": ROUTE}, 2.0)
    b.add_sample("strangler_fallbacks_created", {"route": ROUTE}, 100.0)
    merged = merge_families([Share(1, True, (a,)), Share(2, True, (b,))])
    values = {s.name: s.value for s in merged[0].samples}
    assert values == {"strangler_fallbacks_total": 3.0, "strangler_fallbacks_created": 100.0}
