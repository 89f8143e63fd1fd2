"""What summing the workers of ``strangler serve --workers N`` costs, off the hot path.

- ``snapshot``: one worker writes its registry to its file (every worker, every second);
- ``leader_read``: the leader's rollback check on the sum (its own snapshot + decoding the
  other workers' files + the merge + ``read_counters``), every ``rollback.interval``;
- ``metrics``: the leader's summed ``/metrics`` exposition (per scrape);
- ``parse_text``: for comparison, prometheus_client's text parser on one worker's
  exposition (why the files are our own JSON snapshots).

Figures are CPU time of the measuring thread. Prints one line per case and a JSON line
with every figure at the end::

    python -m bench.bench_workers --routes 50 --workers 4
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from strangler.metrics import ProxyMetrics
from strangler.rollback_monitor import read_counters
from strangler.workers import WorkerMetrics


def _per_call(fn: Callable[[], Any], seconds: float) -> float:
    """CPU seconds of this thread per call (wall time on a shared machine measures the
    neighbours)."""
    n, t0, cpu0 = 0, time.perf_counter(), time.thread_time()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return (time.thread_time() - cpu0) / n


def _worker(routes: list[str], seed: int) -> ProxyMetrics:
    m = ProxyMetrics()
    for i, r in enumerate(routes):
        for side in ("legacy", "new"):
            for status in (200, 404, 503):
                m.request(r, "canary", side, status, 0.001 * ((i + seed) % 40))
            m.upstream_error(r, side, "connect")
        m.fallback(r, "status_5xx")
    return m


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routes", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    routes = [f"GET /r{i}/{{id}}" for i in range(args.routes)]

    # real processes, so the leader sees the other workers alive
    sleepers = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        for _ in range(args.workers - 1)
    ]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = Path(tmp)
            others = [
                WorkerMetrics(_worker(routes, n).registry, run_dir, pid=p.pid)
                for n, p in enumerate(sleepers, start=1)
            ]
            for other in others:
                other.write()
            mine = _worker(routes, 0)
            leader = WorkerMetrics(mine.registry, run_dir)
            samples = sum(len(f.samples) for f in mine.registry.collect())
            snapshot_s = _per_call(lambda: others[0].write(), args.seconds)

            def fresh() -> WorkerMetrics:
                # busy workers rewrite their files every second: decode them every time
                leader._cache.clear()
                return leader

            leader_s = _per_call(lambda: read_counters(fresh()), args.seconds)
            metrics_s = _per_call(lambda: generate_latest(fresh()), args.seconds)
            text = generate_latest(mine.registry).decode()
            parse_s = _per_call(lambda: list(text_string_to_metric_families(text)), args.seconds)
            size = others[0].path.stat().st_size
    finally:
        for p in sleepers:
            p.kill()
            p.wait()

    figures = {
        "routes": args.routes,
        "workers": args.workers,
        "samples_per_worker": samples,
        "snapshot_bytes": size,
        "snapshot_ms": round(snapshot_s * 1000, 2),
        "leader_read_ms": round(leader_s * 1000, 2),
        "metrics_ms": round(metrics_s * 1000, 2),
        "parse_text_ms": round(parse_s * 1000, 2),
    }
    print(f"{args.routes} routes, {samples} samples per worker, {args.workers} workers")
    print(f"snapshot (one worker, every 1 s):       {figures['snapshot_ms']} ms ({size} bytes)")
    print(f"leader's rollback read of the sum:      {figures['leader_read_ms']} ms per check")
    print(f"leader's summed /metrics:               {figures['metrics_ms']} ms per scrape")
    print(f"text parser, one worker's exposition:   {figures['parse_text_ms']} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
