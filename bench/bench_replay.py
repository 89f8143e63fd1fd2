"""Replay throughput of the parity tests against a fast local pair (exchanges per second).

Starts legacy and new as two uvicorn processes on 127.0.0.1 (a raw ASGI app answering
~1 KB of JSON), then measures, side by side in one run:

- ``pool_noise``: the replay pool alone (legacy twice + new per exchange, the default);
- ``pool_no_noise``: the replay pool alone, legacy once + new;
- ``pytest_plugin``: a whole ``pytest --parity-corpus`` run in a subprocess (collection,
  comparison with the shadow engine, reports), wall time per exchange.

Prints one line per case and a JSON line with every figure at the end::

    python -m bench.bench_replay --exchanges 2000 --concurrency 8
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._net import free_port

_DOC = json.dumps(
    {
        "id": 42,
        "name": "Acme Corporation",
        "plan": "pro",
        "members": [{"id": i, "name": f"member {i}", "role": "admin"} for i in range(12)],
    }
).encode()


async def fast_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """~1 KB of JSON for every request (the bench's legacy and new)."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": _DOC})


def _start(port: int) -> subprocess.Popen[bytes]:
    root = Path(__file__).resolve().parent.parent
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "bench.bench_replay:fast_app"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            "--no-access-log",
        ],
        cwd=root,
    )


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url + "/", timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _corpus(path: Path, n: int) -> None:
    from shadow.corpus import write_corpus
    from shadow.exchange import CapturedRequest

    write_corpus(
        path,
        (
            (CapturedRequest("GET", f"/orgs/o{i}", headers=(("accept", "application/json"),)), None)
            for i in range(n)
        ),
    )


def _pool_rate(legacy: str, new: str, n: int, concurrency: int, noise: bool) -> float:
    from parity_tests.replay import ReplayPlan, ReplayPool
    from shadow.exchange import CapturedRequest
    from strangler.backends import build_backend
    from strangler.config import BackendConfig

    pool = ReplayPool(
        {
            "legacy": build_backend("legacy", BackendConfig(target=legacy)),
            "new": build_backend("new", BackendConfig(target=new)),
        },
        concurrency=concurrency,
    )
    try:
        warm = [pool.submit(ReplayPlan(CapturedRequest("GET", "/warm"))) for _ in range(50)]
        for f in warm:
            f.result()
        started = time.perf_counter()
        futures = [
            pool.submit(ReplayPlan(CapturedRequest("GET", f"/orgs/o{i}"), noise=noise))
            for i in range(n)
        ]
        for f in futures:
            f.result()
        return n / (time.perf_counter() - started)
    finally:
        pool.close()


def _plugin_rate(legacy: str, new: str, n: int, concurrency: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        _corpus(corpus, n)
        (Path(tmp) / "pytest.ini").write_text("[pytest]\n")
        started = time.perf_counter()
        subprocess.run(
            [
                *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
                *("--parity-corpus", str(corpus), "--parity-legacy", legacy),
                *("--parity-new", new, "--parity-concurrency", str(concurrency), tmp),
            ],
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return n / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    ports = (free_port(), free_port())
    servers = [_start(p) for p in ports]
    legacy, new = (f"http://127.0.0.1:{p}" for p in ports)
    try:
        _wait_up(legacy)
        _wait_up(new)
        figures = {
            "pool_noise": _pool_rate(legacy, new, args.exchanges, args.concurrency, True),
            "pool_no_noise": _pool_rate(legacy, new, args.exchanges, args.concurrency, False),
            "pytest_plugin": _plugin_rate(legacy, new, args.exchanges, args.concurrency),
        }
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)
    for name, rate in figures.items():
        print(f"{name:15s} {rate:10.0f} exchanges/s")
    print(
        json.dumps(
            {
                "bench": "replay",
                "exchanges": args.exchanges,
                "concurrency": args.concurrency,
                "exchanges_per_s": {k: round(v, 1) for k, v in figures.items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
