"""Shadowing's cost to the client and to the proxy, in separate alternating phases.

Legacy answers a 1 KB JSON body after ``--legacy-ms``; new answers the same after ten times
as long (both bare uvloop servers, and wrk drives the load: the two cores go to the proxy,
not to the doubles around it). One proxy process, served as ``strangler serve`` serves it,
serves two routes: ``GET /pass/{id}`` in mode ``legacy``
(passthrough) and ``GET /shadow/{id}`` in mode ``shadow`` (every request shadowed to new,
compared, recorded into a SQLite store). The load alternates between a passthrough-only
phase and a shadow-only phase (``--phases`` pairs), so a passthrough request never pays for
shadow work done beside it; after each phase the bench waits until the proxy is idle (its
CPU counter stops moving), so the shadow work a phase caused (the candidate's answer, the
comparison, the store) is charged to that phase.

Targets (issue 16): shadow p50 at most 1.1x and p99 at most 1.2x passthrough, and CPU per
shadowed request (comparison included) at most 2x passthrough's. The exit code is 1 when a
target is missed. Prints each phase, the medians over phases and one JSON line::

    python -m bench.bench_shadow --phase-seconds 4 --phases 3 --connections 2,8 --legacy-ms 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench._net import free_port, wait_port
from bench.bench_proxy import _ensure_tools, _wrk

CLK_TCK = os.sysconf("SC_CLK_TCK")
PIN_ENV = "STRANGLER_BENCH_PROXY_CPU"

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
    """A backend answering every request with the 1 KB body after ``delay_ms``: a bare
    uvloop protocol, so that the machine's two cores go to the proxy, not to the doubles
    around it (both phases share the same backends and the same load generator)."""
    import uvloop

    answer = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        % len(BODY)
        + BODY
    )
    delay = delay_ms / 1000.0

    class Backend(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:  # GETs only: no request body
                _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
                loop.call_later(delay, self.answer)

        def answer(self) -> None:
            if not self.transport.is_closing():
                self.transport.write(answer)

    async def main() -> None:
        server = await loop.create_server(Backend, "127.0.0.1", port)
        await server.serve_forever()

    loop = uvloop.new_event_loop()
    loop.run_until_complete(main())


def serve_proxy(config_path: str, port: int) -> None:
    """The proxy with shadowing attached (the same wiring as ``create_app``), served as
    ``strangler serve`` serves it: its protocol (and so its fast path) and heap settling."""
    import uvicorn

    from strangler.app import settle_heap
    from strangler.config import load_config
    from strangler.proxy import SERVER_SETTINGS, Proxy
    from strangler.shadowing import attach_shadow
    from strangler.store import Store

    pinned = os.environ.get(PIN_ENV)
    if pinned:  # --pin: the proxy alone on its core
        os.sched_setaffinity(0, {int(pinned)})
    cfg = load_config(config_path)
    store = Store(cfg.store)
    store.ensure_schema()
    proxy = Proxy(cfg)
    attach_shadow(proxy, cfg, store)
    proxy.on_startup.append(settle_heap)
    kwargs = {**_uvicorn_kwargs(), **SERVER_SETTINGS}
    uvicorn.run(proxy, host="127.0.0.1", port=port, **kwargs)


def _cpu_split(pid: int) -> tuple[int, int]:
    """(user, system) CPU ticks of ``pid``, its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def _cpu_ticks(pid: int) -> int:
    return sum(_cpu_split(pid))


def _wait_idle(pid: int, quiet: float = 0.4, cap: float = 15.0) -> None:
    """Return once ``pid`` used no CPU for ``quiet`` seconds (or after ``cap``)."""
    deadline = time.monotonic() + cap
    last, still_since = _cpu_ticks(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = _cpu_ticks(pid)
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return


def _phase(url: str, seconds: float, connections: int) -> tuple[float, float, int]:
    """wrk (closed loop, ``connections`` connections) on ``url``: p50 and p99 in ms and
    the number of requests; any failed request fails the bench."""
    _, p50, p99, total = _wrk(url, max(1, round(seconds)), connections)
    return p50, p99, total


def _run_phases(
    base: str, proxy_pid: int, args: argparse.Namespace
) -> dict[str, list[dict[str, float]]]:
    _phase(f"{base}/pass/1", args.warmup, args.connections)  # pools, caches
    _phase(f"{base}/shadow/1", args.warmup, args.connections)
    _wait_idle(proxy_pid)
    phases: dict[str, list[dict[str, float]]] = {"pass": [], "shadow": []}
    for n in range(args.phases):
        for kind in ("pass", "shadow") if n % 2 == 0 else ("shadow", "pass"):
            user0, sys0 = _cpu_split(proxy_pid)
            p50, p99, total = _phase(f"{base}/{kind}/1", args.phase_seconds, args.connections)
            _wait_idle(proxy_pid)
            user1, sys1 = _cpu_split(proxy_pid)
            ticks = user1 - user0 + sys1 - sys0
            phases[kind].append(
                {
                    "requests": total,
                    "p50_ms": round(p50, 3),
                    "p99_ms": round(p99, 3),
                    "cpu_us_per_request": round(ticks / CLK_TCK * 1e6 / total, 1),
                    "sys_us_per_request": round((sys1 - sys0) / CLK_TCK * 1e6 / total, 1),
                }
            )
    return phases


def _median(phases: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(p[key] for p in phases))


def _without_connections(argv: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--connections":
            skip = True
        elif not arg.startswith("--connections="):
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phase-seconds", type=float, default=4.0, help="seconds per phase")
    parser.add_argument("--phases", type=int, default=3, help="pairs of phases")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not measured")
    parser.add_argument(
        "--connections",
        default="8",
        help="wrk's connections; a list (2,8) runs the bench once per value, each with "
        "fresh backends and proxy (the ratios depend on the load)",
    )
    parser.add_argument("--legacy-ms", type=float, default=1.0, help="legacy's answer time")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the proxy alone on the last core, wrk and the backends on the others "
        "(steadier figures for comparing two trees; the proxy gets one core)",
    )
    parser.add_argument(
        "--serve-backend", nargs=2, metavar=("PORT", "DELAY_MS"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--serve-proxy", nargs=2, metavar=("CONFIG", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.serve_backend:
        serve_backend(int(args.serve_backend[0]), float(args.serve_backend[1]))
        return 0
    if args.serve_proxy:
        serve_proxy(args.serve_proxy[0], int(args.serve_proxy[1]))
        return 0

    counts = [int(n) for n in str(args.connections).split(",") if n.strip()]
    if len(counts) > 1:
        codes = []
        for n in counts:
            rest = _without_connections(argv if argv is not None else sys.argv[1:])
            codes.append(main([*rest, "--connections", str(n)]))
            print()
        return max(codes)
    args.connections = counts[0]

    import yaml

    from strangler.config import load_config
    from strangler.report import build_report
    from strangler.store import Store

    _ensure_tools()  # wrk (and nginx, unused here) from Debian's packages
    load_before = os.getloadavg()[0]
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
                    "shadow": {"sample": 1.0, "timeout": 2.0, "max_in_flight": 256},
                    "routes": [
                        {"route": "GET /pass/{id}", "mode": "legacy"},
                        {"route": "GET /shadow/{id}", "mode": "shadow"},
                    ],
                }
            )
        )
        me = [sys.executable, "-m", "bench.bench_shadow"]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        if args.pin:
            cores = sorted(os.sched_getaffinity(0))
            if len(cores) < 2:
                parser.error("--pin needs two cores or more")
            os.sched_setaffinity(0, cores[:-1])  # this process, wrk and the backends
            env[PIN_ENV] = str(cores[-1])
        try:
            for port, ms in ((legacy_port, args.legacy_ms), (new_port, new_ms)):
                procs.append(
                    subprocess.Popen([*me, "--serve-backend", str(port), str(ms)], env=env)
                )
            proxy = subprocess.Popen(
                [*me, "--serve-proxy", str(cfg_path), str(proxy_port)], env=env
            )
            procs.append(proxy)
            for port in (legacy_port, new_port, proxy_port):
                wait_port(port)
            phases = _run_phases(f"http://127.0.0.1:{proxy_port}", proxy.pid, args)
            time.sleep(1.5)  # the recorder's last flush
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
    load_after = os.getloadavg()[0]
    shadow_route = next((r for r in report.routes if r.route == "GET /shadow/{id}"), None)
    figures: dict[str, Any] = {
        "bench": "shadow",
        "legacy_ms": args.legacy_ms,
        "new_ms": new_ms,
        "connections": args.connections,
        "phase_seconds": args.phase_seconds,
        "pinned": args.pin,
        "phases": phases,
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
    }
    for kind in ("pass", "shadow"):
        for key in ("p50_ms", "p99_ms", "cpu_us_per_request", "sys_us_per_request"):
            figures[f"{kind}_{key}"] = _median(phases[kind], key)
    ratios = {
        "p50_ratio": (figures["shadow_p50_ms"] / figures["pass_p50_ms"], 1.1),
        "p99_ratio": (figures["shadow_p99_ms"] / figures["pass_p99_ms"], 1.2),
        "cpu_ratio": (
            figures["shadow_cpu_us_per_request"] / figures["pass_cpu_us_per_request"],
            2.0,
        ),
    }
    if shadow_route is not None:
        figures["shadow_compared"] = shadow_route.compared
        figures["shadow_matched"] = shadow_route.matched
        figures["shadow_dropped"] = sum(shadow_route.dropped.values())
    print(
        f"legacy {args.legacy_ms} ms, new {new_ms} ms, {args.connections} connections, "
        f"{args.phases} pairs of {args.phase_seconds:.0f} s phases (medians over phases)"
    )
    for kind in ("pass", "shadow"):
        print(
            f"  {kind:<7} p50 {figures[f'{kind}_p50_ms']:7.2f} ms  p99 {figures[f'{kind}_p99_ms']:7.2f} ms"
            f"  CPU {figures[f'{kind}_cpu_us_per_request']:7.1f} µs/request"
            f" (kernel {figures[f'{kind}_sys_us_per_request']:.1f})"
            f"  ({sum(int(p['requests']) for p in phases[kind])} requests)"
        )
    missed = []
    for name, (ratio, limit) in ratios.items():
        figures[name] = round(ratio, 3)
        ok = ratio <= limit
        missed += [] if ok else [name]
        print(
            f"  shadow/passthrough {name[:-6]}: {ratio:.2f}x (target at most {limit}x: {'ok' if ok else 'MISSED'})"
        )
    if shadow_route is not None:
        print(
            f"  shadow side: {figures['shadow_compared']} compared, {figures['shadow_matched']} matched, "
            f"{figures['shadow_dropped']} dropped"
        )
    print(f"  load average (1 min) before / after: {load_before:.2f} / {load_after:.2f}")
    print(json.dumps(figures))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
