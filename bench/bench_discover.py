"""``strangler discover`` on a large access log: lines read per second.

Writes a combined-format access log (nginx's default) in a temporary folder, by default
1 GB, with the mix of a real API (slugs, numeric ids, UUIDs, nested resources, fixed
endpoints, query strings), then runs the same code as ``strangler discover`` on it and
prints the lines per second, the routes found and the process's peak memory. Target
(issue 15): at least 200,000 lines/s; the exit code is 1 when it is missed::

    python -m bench.bench_discover --size 1GB
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

from strangler.discovery import discover

TARGET_LINES_PER_S = 200_000


def _size(text: str) -> int:
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9}
    for unit, factor in units.items():
        if text.upper().endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def _write_log(path: Path, size: int, seed: int = 3) -> int:
    rng = random.Random(seed)
    slugs = [f"org-{rng.randrange(10**6)}" for _ in range(5_000)]
    uuids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(5_000)]
    templates = [
        ("GET", "/orgs/{s}?tab=about"),
        ("GET", "/orgs/{s}/forms/{n}"),
        ("POST", "/orgs/{s}/donations"),
        ("GET", "/payments/{u}"),
        ("GET", "/health"),
        ("GET", "/api/v1/campaigns/{n}/stats?from=2026-01-01"),
        ("GET", "/static/app.js"),
    ]
    head = '10.1.2.3 - - [05/Dec/2026:10:00:00 +0000] "'
    tail = ' HTTP/1.1" 200 1532 "https://pay.example/" "Mozilla/5.0 (X11; Linux x86_64)"\n'
    lines = written = 0
    with path.open("w", encoding="utf-8") as f:
        while written < size:
            chunk = []
            for _ in range(10_000):
                method, template = rng.choice(templates)
                target = template.format(
                    s=rng.choice(slugs), n=rng.randrange(10**6), u=rng.choice(uuids)
                )
                chunk.append(f"{head}{method} {target}{tail}")
            text = "".join(chunk)
            f.write(text)
            written += len(text)
            lines += len(chunk)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GB", help="log size, e.g. 200MB, 1GB")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        t0 = time.monotonic()
        lines = _write_log(log, _size(args.size))
        print(f"wrote {log.stat().st_size / 1e6:,.0f} MB ({lines:,} lines) in "
              f"{time.monotonic() - t0:.1f} s", flush=True)  # fmt: skip
        load = os.getloadavg()[0]
        cpu0, t0 = time.process_time(), time.monotonic()
        found = discover([log])
        seconds = time.monotonic() - t0
        cpu = time.process_time() - cpu0
    rate = lines / seconds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = rate >= TARGET_LINES_PER_S
    for r in found.routes:
        print(f"  {r.route:<50} {r.share:7.2%}")
    print(
        f"discover: {lines:,} lines in {seconds:.1f} s = {rate:,.0f} lines/s "
        f"(CPU {cpu:.1f} s; target at least {TARGET_LINES_PER_S:,}: {'met' if ok else 'MISSED'}); "
        f"peak memory {peak_mb:,.0f} MB; load average {load:.2f}"
    )
    print(
        json.dumps(
            {
                "bench": "discover",
                "lines": lines,
                "seconds": round(seconds, 2),
                "lines_per_s": round(rate),
                "routes": len(found.routes),
                "peak_mb": round(peak_mb),
                "load_average_1m": round(load, 2),
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
