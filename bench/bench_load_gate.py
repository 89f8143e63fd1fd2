"""The load gate on identical backends under drifting machine load: how often does it pass?

Two copies of one service once failed the gate (new p95 x1.31, p=1e-52) because legacy and
new were loaded one after the other while the machine's load drifted. Load runs now
interleave the sides in short alternating blocks (:mod:`load._blocks`). This bench proves it
on this machine: it starts CPU-bound backends (each request does a fixed amount of work, so
the machine's load shows in its latency) and a background burner whose load on every core
rises and falls over seconds, then runs the real load path and the real gate ``--runs``
times for

- identical legacy and new (should pass in at least 19 of 20 runs), and
- new doing 30 % more work per request (should fail every run),

interleaved (the default) and, with ``--sequential``, one side after the other for
comparison. It prints the pass counts per case as JSON lines::

    python -m bench.bench_load_gate --runs 20 --seconds 6 --block 0.5
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from typing import Any

from bench._net import ANSWER_SERVER, free_port, wait_port
from load.gate import judge
from load.run import RunSpec, Target, run_load
from load.scenario import LoadRequest, RouteLoad, Scenario
from strangler.config import LoadSettings


def _burn(period: float) -> None:
    """Busy for a share of each 50 ms slice that rises and falls over ``period`` seconds."""
    import math

    started = time.monotonic()
    while True:
        now = time.monotonic()
        duty = 0.5 + 0.45 * math.sin(2 * math.pi * (now - started) / period)
        busy_until = now + 0.05 * duty
        while time.monotonic() < busy_until:
            pass
        time.sleep(0.05 * (1 - duty))


def _serve(work: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", ANSWER_SERVER, str(port), "86400", str(work)])
    wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


def _case(legacy: str, new: str, runs: int, seconds: float, block: float) -> dict[str, Any]:
    scenario = Scenario((RouteLoad("GET /", 1.0, (LoadRequest("GET", "/"),)),), "bench")
    settings = LoadSettings()
    passed, ratios = 0, []
    for _ in range(runs):
        spec = RunSpec(
            scenario,
            (Target("legacy", legacy), Target("new", new)),
            users=4,
            spawn_rate=1000,
            duration=seconds,
            request_timeout=10,
            block=block,
        )
        old, fresh = run_load(spec)
        gate = judge(old, fresh, settings)
        passed += gate.passed
        figures = gate.verdicts[0].figures
        ratios.append(
            [figures.get(k) for k in ("paired_p50_ratio", "paired_p95_ratio", "p95_ratio")]
        )
    # per run: paired p50 and p95 ratios (interleaved blocks), pooled p95 ratio
    return {"runs": runs, "passed": passed, "ratios": ratios}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6.0, help="per side and run")
    parser.add_argument("--work", type=int, default=40000, help="loop steps per request")
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--period", type=float, default=7.0, help="seconds per load wave")
    parser.add_argument("--block", type=float, default=0.5, help="seconds per block")
    parser.add_argument("--sequential", action="store_true", help="also run unsplit")
    args = parser.parse_args(argv)
    procs = []
    burners = [
        multiprocessing.Process(target=_burn, args=(args.period,), daemon=True)
        for _ in range(args.burners)
    ]
    try:
        legacy_proc, legacy = _serve(args.work)
        twin_proc, twin = _serve(args.work)
        slow_proc, slow = _serve(int(args.work * 1.3))
        procs = [legacy_proc, twin_proc, slow_proc]
        for b in burners:
            b.start()
        modes = [("interleaved", args.block)] + ([("sequential", 0.0)] if args.sequential else [])
        for mode, block in modes:
            for case, new in (("identical", twin), ("new 30% slower", slow)):
                figures = _case(legacy, new, args.runs, args.seconds, block)
                print(json.dumps({"mode": mode, "case": case, **figures}), flush=True)
    finally:
        for b in burners:
            b.terminate()
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
