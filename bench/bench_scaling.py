"""``strangler serve --workers N``: requests per second and CPU per request, N side by side.

The upstream is its own nginx process; each strangler server (one per N) proxies a
declared ``legacy`` route to it. The servers are measured in interleaved rounds with the
same wrk load, and the CPU per request counts the server's whole process tree (the
workers and the process that supervises them). Linear scaling means req/s growing with N
up to the cores that are free: on a 2-core machine, wrk and the upstream take their share,
so the figure to read is the per-request CPU, which must not grow with N::

    python -m bench.bench_scaling --workers 1 2 --duration 5 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._net import free_port, wait_port
from bench.bench_proxy import (
    BODY,
    _ensure_tools,
    _nginx_bin,
    _stop,
    _tree,
    _wrk,
    measure,
    upstream_block,
    write_nginx_conf,
)

PATH = "/orgs/acme"


def _config(work: Path, up_port: int, n: int) -> Path:
    path = work / f"strangler-{n}.yaml"
    path.write_text(
        f"legacy: http://127.0.0.1:{up_port}\nnew: http://127.0.0.1:{up_port}\n"
        f"store: sqlite:///{work}/store-{n}.db\nadmin: {{port: 0}}\n"
        'routes:\n  - {route: "GET /orgs/{slug}", mode: legacy}\n'
    )
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args(argv)
    _ensure_tools()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="strangler-scaling-"))
    (work / "body.json").write_text(BODY)
    up_port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    rows: dict[int, list[tuple[float, float]]] = {n: [] for n in args.workers}
    try:
        up_conf = write_nginx_conf(work, "upstream", upstream_block(work, up_port))
        procs.append(subprocess.Popen([_nginx_bin(), "-c", str(up_conf), "-p", str(work)]))
        wait_port(up_port)
        servers: dict[int, tuple[subprocess.Popen[bytes], int]] = {}
        for n in args.workers:
            port = free_port()
            cmd = [sys.executable, "-m", "strangler", "serve", "-c", str(_config(work, up_port, n))]
            cmd += ["--port", str(port), "--workers", str(n), "--log-level", "warning"]
            servers[n] = (subprocess.Popen(cmd, stdout=subprocess.DEVNULL), port)
            procs.append(servers[n][0])
        for _proc, port in servers.values():
            wait_port(port, 90)
            _wrk(f"http://127.0.0.1:{port}{PATH}", 2, args.connections)  # warm-up
        for r in range(args.rounds):
            for n, (proc, port) in servers.items():
                url = f"http://127.0.0.1:{port}{PATH}"
                f = measure(f"{n}", r, url, _tree(proc.pid), args.duration, args.connections)
                rows[n].append((f.requests_per_s, f.cpu_us_per_request or 0.0))
                print(
                    f"workers {n} round {r}: {f.requests_per_s:9.1f} req/s  "
                    f"p50 {f.p50_ms:.2f} ms  CPU {f.cpu_us_per_request} µs/request"
                )
    finally:
        _stop(procs)
        shutil.rmtree(work, ignore_errors=True)
    summary = {
        n: {
            "requests_per_s": round(statistics.median(r for r, _ in v), 1),
            "cpu_us_per_request": round(statistics.median(c for _, c in v), 1),
        }
        for n, v in rows.items()
    }
    base = summary[args.workers[0]]
    for n, s in summary.items():
        print(
            f"workers {n}: {s['requests_per_s']:.0f} req/s "
            f"({s['requests_per_s'] / base['requests_per_s']:.2f}x), "
            f"{s['cpu_us_per_request']} µs CPU per request "
            f"({s['cpu_us_per_request'] / base['cpu_us_per_request']:.2f}x)"
        )
    load_after = os.getloadavg()[0]
    print(f"load average (1 min) before / after: {load_before:.2f} / {load_after:.2f}")
    print(json.dumps({"bench": "scaling", "summary": summary, "cores": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
