"""The load generator's own capacity on this machine: requests/s one locust process pushes.

``strangler load`` runs one locust process (or one per worker). When a run comes close to
what that process can push at all, the generator, not the system under test, set the pace.
This bench runs the real load path (:func:`load.run.run_load`, the same child process and
user class) against a trivial server that answers a fixed 200 from a bare asyncio protocol
in another process, for a few user counts, and prints per step: requests/s, the
generator's CPU (100% = one core) and the server's CPU (if the server is near 100%, it was
the limit and the capacity is a lower bound).

Put the best figure in the config so reports warn near it::

    load:
      generator_capacity: 2400     # req/s, from bench/bench_loadgen.py

    python -m bench.bench_loadgen --seconds 4 --users 1,4,16
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

import psutil  # type: ignore[import-untyped]

from bench._net import ANSWER_SERVER, free_port
from load.run import RunSpec, Target, run_load
from load.scenario import LoadRequest, RouteLoad, Scenario


def _step(url: str, server: psutil.Process, users: int, seconds: float) -> dict[str, Any]:
    scenario = Scenario((RouteLoad("GET /", 1.0, (LoadRequest("GET", "/"),)),), "bench")
    spec = RunSpec(
        scenario,
        (Target("bench", url),),
        users=users,
        spawn_rate=1000,
        duration=seconds,
        request_timeout=10,
        sample_cap=2000,
        seed=1,
    )
    server.cpu_percent()  # starts the server's CPU window
    started = time.monotonic()
    (result,) = run_load(spec)
    server_cpu = server.cpu_percent() * (time.monotonic() - started) / result.seconds
    route = result.routes[0]
    return {
        "users": users,
        "rps": round(result.rps, 1),
        "generator_cpu_percent": result.cpu_percent,
        "server_cpu_percent": round(min(server_cpu, 100.0 * (psutil.cpu_count() or 1)), 1),
        "p50_ms": route.p50,
        "p99_ms": route.p99,
        "failures": result.failures,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per step")
    parser.add_argument("--users", default="1,4,16", help="user counts to try")
    args = parser.parse_args(argv)
    steps = [int(u) for u in args.users.split(",")]
    port = free_port()
    lifetime = (args.seconds + 10) * len(steps) + 30  # the server stops by itself
    proc = subprocess.Popen(
        [sys.executable, "-c", ANSWER_SERVER, str(port), str(lifetime)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("the bench server did not start")
        server = psutil.Process(proc.pid)
        figures = []
        for users in steps:
            step = _step(f"http://127.0.0.1:{port}", server, users, args.seconds)
            figures.append(step)
            print(
                f"users {users:>3}: {step['rps']:>8.0f} req/s  generator CPU "
                f"{step['generator_cpu_percent']:>5.1f}%  server CPU "
                f"{step['server_cpu_percent']:>5.1f}%  p50 {step['p50_ms']} ms",
                flush=True,
            )
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    best = max(figures, key=lambda f: f["rps"])
    print(
        f"capacity of one load process here: about {best['rps']:.0f} req/s "
        f"(set load.generator_capacity: {best['rps']:.0f})"
    )
    print(
        json.dumps(
            {
                "bench": "loadgen",
                "cpus": psutil.cpu_count(),
                "seconds": args.seconds,
                "capacity_rps": best["rps"],
                "steps": figures,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
