"""Client latency with shadowing on, against passthrough, side by side in one run.

Legacy answers a 1 KB JSON body after ``--legacy-ms``; new answers the same after ten times
as long. One proxy process serves two routes: ``GET /pass/{id}`` in mode ``legacy``
(passthrough) and ``GET /shadow/{id}`` in mode ``shadow`` (every request shadowed to new,
compared, recorded into a SQLite store). A closed-loop client alternates between the two
routes on every connection, so both see the same load at the same time. Prints p50/p99
per route, their ratio (target: shadow p50 within 1.1x of passthrough), and what the
shadow side did (compared, dropped), then one JSON line::

    python -m bench.bench_shadow --duration 10 --connections 8 --legacy-ms 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench._net import free_port, wait_port

BODY = json.dumps(
    {"id": 1, "name": "Acme", "items": [{"sku": f"SKU-{i:04d}", "qty": i} for i in range(30)]}
)[:1024].encode()


def _uvicorn_kwargs() -> dict[str, Any]:
    kwargs: dict[str, Any] = {"log_level": "warning", "access_log": False}
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401

        kwargs.update(loop="uvloop", http="httptools")
    except ImportError:
        pass
    return kwargs


def serve_backend(port: int, delay_ms: float) -> None:
    """A backend answering every request with the 1 KB body after ``delay_ms``."""
    import uvicorn

    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await asyncio.sleep(delay_ms / 1000.0)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": BODY})

    uvicorn.run(app, host="127.0.0.1", port=port, **_uvicorn_kwargs())


def serve_proxy(config_path: str, port: int) -> None:
    """The proxy with shadowing attached (the same wiring as ``create_app``)."""
    import uvicorn

    from strangler.config import load_config
    from strangler.proxy import Proxy
    from strangler.shadowing import attach_shadow
    from strangler.store import Store

    cfg = load_config(config_path)
    store = Store(cfg.store)
    store.ensure_schema()
    proxy = Proxy(cfg)
    attach_shadow(proxy, cfg, store)
    uvicorn.run(proxy, host="127.0.0.1", port=port, **_uvicorn_kwargs())


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100.0 * len(ordered)))]


async def _load(
    url: str, duration: float, connections: int, warmup: float
) -> dict[str, list[float]]:
    import aiohttp

    lat: dict[str, list[float]] = {"pass": [], "shadow": []}
    errors = 0
    start = time.monotonic()
    end = start + warmup + duration

    async def worker(n: int, session: aiohttp.ClientSession) -> None:
        nonlocal errors
        i = 0
        while time.monotonic() < end:
            kind = ("pass", "shadow")[(i + n) % 2]
            i += 1
            t0 = time.perf_counter()
            async with session.get(f"{url}/{kind}/{i}") as resp:
                await resp.read()
                ok = resp.status == 200
            elapsed = (time.perf_counter() - t0) * 1000.0
            if not ok:
                errors += 1
            elif time.monotonic() - start >= warmup:
                lat[kind].append(elapsed)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(n, session) for n in range(connections)))
    if errors:
        raise RuntimeError(f"{errors} requests failed")
    return lat


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds not measured")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--legacy-ms", type=float, default=2.0, help="legacy's answer time")
    parser.add_argument(
        "--serve-backend", nargs=2, metavar=("PORT", "DELAY_MS"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--serve-proxy", nargs=2, metavar=("CONFIG", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.serve_backend:
        serve_backend(int(args.serve_backend[0]), float(args.serve_backend[1]))
        return {}
    if args.serve_proxy:
        serve_proxy(args.serve_proxy[0], int(args.serve_proxy[1]))
        return {}

    import yaml

    from strangler.config import load_config
    from strangler.report import build_report
    from strangler.store import Store

    legacy_port, new_port, proxy_port = free_port(), free_port(), free_port()
    new_ms = args.legacy_ms * 10
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg_path = Path(tmp) / "strangler.yaml"
        cfg_path.write_text(
            yaml.safe_dump(
                {
                    "legacy": f"http://127.0.0.1:{legacy_port}",
                    "new": f"http://127.0.0.1:{new_port}",
                    "store": f"sqlite:///{tmp}/store.db",
                    "shadow": {
                        "sample": 1.0,
                        "noise_sample": 0.0,
                        "timeout": 2.0,
                        "max_in_flight": 256,
                    },
                    "routes": [
                        {"route": "GET /pass/{id}", "mode": "legacy"},
                        {"route": "GET /shadow/{id}", "mode": "shadow"},
                    ],
                }
            )
        )
        me = [sys.executable, "-m", "bench.bench_shadow"]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        try:
            procs.append(
                subprocess.Popen(
                    [*me, "--serve-backend", str(legacy_port), str(args.legacy_ms)], env=env
                )
            )
            procs.append(
                subprocess.Popen([*me, "--serve-backend", str(new_port), str(new_ms)], env=env)
            )
            procs.append(
                subprocess.Popen([*me, "--serve-proxy", str(cfg_path), str(proxy_port)], env=env)
            )
            for port in (legacy_port, new_port, proxy_port):
                wait_port(port)
            lat = asyncio.run(
                _load(
                    f"http://127.0.0.1:{proxy_port}", args.duration, args.connections, args.warmup
                )
            )
            time.sleep(2.5)  # let the last shadow calls finish and the recorder flush
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        store = Store(load_config(cfg_path).store)
        report = build_report(store, None, since=timedelta(hours=1))
        store.close()
    shadow_route = next((r for r in report.routes if r.route == "GET /shadow/{id}"), None)
    figures: dict[str, Any] = {
        "bench": "shadow",
        "legacy_ms": args.legacy_ms,
        "new_ms": new_ms,
        "connections": args.connections,
        "pass_requests": len(lat["pass"]),
        "shadow_requests": len(lat["shadow"]),
        "pass_p50_ms": round(_pct(lat["pass"], 50), 3),
        "pass_p99_ms": round(_pct(lat["pass"], 99), 3),
        "shadow_p50_ms": round(_pct(lat["shadow"], 50), 3),
        "shadow_p99_ms": round(_pct(lat["shadow"], 99), 3),
    }
    figures["p50_ratio"] = round(figures["shadow_p50_ms"] / figures["pass_p50_ms"], 3)
    figures["p99_ratio"] = round(figures["shadow_p99_ms"] / figures["pass_p99_ms"], 3)
    if shadow_route is not None:
        figures["shadow_compared"] = shadow_route.compared
        figures["shadow_matched"] = shadow_route.matched
        figures["shadow_dropped"] = sum(shadow_route.dropped.values())
        figures["new_p50_ms_seen_by_shadow"] = shadow_route.latency["new"].p50
    print(
        f"legacy {args.legacy_ms} ms, new {new_ms} ms, {args.connections} connections, "
        f"{args.duration:.0f} s measured"
    )
    for kind in ("pass", "shadow"):
        print(
            f"  {kind:<7} {figures[f'{kind}_requests']:>7} requests  "
            f"p50 {figures[f'{kind}_p50_ms']:7.2f} ms  p99 {figures[f'{kind}_p99_ms']:7.2f} ms"
        )
    verdict = "ok" if figures["p50_ratio"] <= 1.1 else "ABOVE TARGET"
    print(
        f"  shadow/passthrough p50 {figures['p50_ratio']}x (target <= 1.1x: {verdict}), p99 {figures['p99_ratio']}x"
    )
    if shadow_route is not None:
        print(
            f"  shadow side: {figures['shadow_compared']} compared, {figures['shadow_matched']} matched, "
            f"{figures['shadow_dropped']} dropped"
        )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
