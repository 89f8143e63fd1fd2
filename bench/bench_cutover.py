"""What the cutover pieces cost in the proxy process and on the admin side.

- ``read_counters``: one rollback check reads the proxy's Prometheus registry (in memory);
  it runs every ``rollback.interval`` (0.5 s), never per request;
- ``judge``: the pure rollback decision for one route;
- ``readiness_of``: every route's verdict from a SQLite store holding a day of per-minute
  aggregates (what ``strangler ready``, the dashboard and a gated flip pay).

Prints one line per case and a JSON line with every figure at the end::

    python -m bench.bench_cutover --routes 50
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from strangler.config import RollbackSettings, parse_config
from strangler.control import open_store, readiness_of
from strangler.metrics import ProxyMetrics
from strangler.rollback_monitor import read_counters
from strangler.rollout import judge
from strangler.store.shadow_models import ShadowMinuteRow
from strangler.store.traffic_models import TrafficMinuteRow


def _per_call(fn: Callable[[], Any], seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    routes = [f"GET /r{i}/{{id}}" for i in range(args.routes)]

    metrics = ProxyMetrics()
    for r in routes:
        for side in ("legacy", "new"):
            metrics.request(r, "canary", side, 200, 0.01)
            metrics.request(r, "canary", side, 503, 0.2)
        metrics.fallback(r, "status_5xx")
    read_s = _per_call(lambda: read_counters(metrics.registry), args.seconds)
    counters = read_counters(metrics.registry)[routes[0]]
    settings = RollbackSettings()
    judge_s = _per_call(lambda: judge(counters, settings), args.seconds)

    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config(
            {
                "legacy": "http://127.0.0.1:9",
                "new": "http://127.0.0.1:9",
                "store": f"sqlite:///{Path(tmp) / 's.db'}",
                "routes": [{"route": r, "mode": "shadow"} for r in routes],
            }
        )
        store = open_store(cfg)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        with store.session() as s:
            for minute in range(24 * 60):
                at = now - timedelta(minutes=minute)
                for r in routes:
                    s.add(
                        ShadowMinuteRow(
                            route=r,
                            minute=at,
                            instance="p",
                            requests=10,
                            compared=10,
                            matched=10,
                            noise=0,
                            mismatch_status=0,
                            mismatch_schema=0,
                            mismatch_value=0,
                            mismatch_added=0,
                            noise_samples=0,
                            not_compared={},
                            dropped={},
                            legacy_ms=[1] * 48,
                            new_ms=[1] * 48,
                        )
                    )
                    s.add(
                        TrafficMinuteRow(
                            route=r,
                            minute=at,
                            instance="p",
                            side="legacy",
                            served=10,
                            requests=10,
                            errors=0,
                            latency=[1] * 48,
                        )
                    )
        ready_s = _per_call(lambda: readiness_of(cfg, store), args.seconds)
        store.close()

    figures = {
        "routes": args.routes,
        "read_counters_ms": round(read_s * 1000, 3),
        "judge_us": round(judge_s * 1e6, 2),
        "readiness_all_routes_ms": round(ready_s * 1000, 1),
    }
    print(f"read_counters ({args.routes} routes):     {figures['read_counters_ms']} ms per check")
    print(f"judge (one route):                 {figures['judge_us']} us")
    print(
        f"readiness_of ({args.routes} routes, 1 h of minutes): {figures['readiness_all_routes_ms']} ms"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
