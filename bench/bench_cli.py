"""Start-up time of the ``strangler`` command and of the parity pytest plugin.

Engineers flip routes one by one and CI scripts call the CLI many times, so the time a
command takes before it does anything is felt. Each case runs in a fresh process, several
times; the median wall time is reported (a loaded machine makes single runs noisy):

- ``python``: a bare ``python -c pass``, the floor every command pays;
- ``help`` / ``flip_help``: ``strangler --help`` and ``strangler flip --help``;
- ``routes``: ``strangler routes`` against a scratch SQLite store holding one flip;
- ``import_cli``: ``import strangler.cli`` measured inside the process;
- ``import_plugin``: ``import parity_tests.plugin`` after ``import pytest``, what the
  ``pytest11`` entry point adds to every pytest start-up.

Prints one line per case and a JSON line with every figure (seconds) at the end::

    python -m bench.bench_cli --runs 7
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
import time
from pathlib import Path

CONFIG = """\
legacy: http://127.0.0.1:9
new: http://127.0.0.1:9
store: sqlite:///{store}
routes:
  - route: "GET /orgs/{{slug}}"
    mode: shadow
  - route: "GET,HEAD /orgs/{{slug}}/forms"
    mode: legacy
  - route: "POST /payments"
    mode: legacy
"""

IMPORT_TIMER = (
    "import sys, time\n"
    "for name in sys.argv[1:-1]: __import__(name)\n"
    "t = time.perf_counter(); __import__(sys.argv[-1]); print(time.perf_counter() - t)"
)


def _strangler() -> list[str]:
    script = Path(sys.executable).parent / "strangler"
    return [str(script)] if script.exists() else [sys.executable, "-m", "strangler"]


def _wall(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def _imported(preload: list[str], module: str, env: dict[str, str], cwd: Path) -> float:
    cmd = [sys.executable, "-c", IMPORT_TIMER, *preload, module]
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per case (median reported)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="strangler-bench-cli-"))
    try:
        config = work / "strangler.yaml"
        config.write_text(CONFIG.format(store=work / "store.db"), encoding="utf-8")
        env = {**os.environ, "STRANGLER_ACTOR": "bench"}
        cli = _strangler()
        _wall([*cli, "db", "upgrade", "-c", str(config)], env, work)
        flip = ["flip", "GET /orgs/{slug}", "--to", "canary", "--percent", "5", "-r", "bench"]
        _wall([*cli, *flip, "-c", str(config), "--force"], env, work)

        cases = {
            "python": lambda: _wall([sys.executable, "-c", "pass"], env, work),
            "help": lambda: _wall([*cli, "--help"], env, work),
            "flip_help": lambda: _wall([*cli, "flip", "--help"], env, work),
            "routes": lambda: _wall([*cli, "routes", "-c", str(config)], env, work),
            "import_cli": lambda: _imported([], "strangler.cli", env, work),
            "import_plugin": lambda: _imported(["pytest"], "parity_tests.plugin", env, work),
        }
        figures: dict[str, float] = {}
        print(f"median of {args.runs} runs, each in a fresh process (wall time)")
        for name, run in cases.items():
            run()  # warm the file cache and the bytecode
            median = statistics.median(run() for _ in range(args.runs))
            figures[f"{name}_s"] = round(median, 3)
            print(f"  {name:<14} {median * 1000:8.0f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"bench": "cli", "runs": args.runs, **figures}))
    return figures


if __name__ == "__main__":
    main()
