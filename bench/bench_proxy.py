"""Proxy overhead, side by side in one run: upstream direct, nginx proxy_pass, strangler.

The upstream is nginx serving a 1 KB JSON body (so the upstream is never the bottleneck);
the load is wrk on 127.0.0.1 with fixed connections and duration. For each target this
prints req/s, p50/p99 latency and the proxy's CPU microseconds per request (user+system
time of the proxy processes from /proc, divided by the requests served), then the ratios.
nginx and wrk come from Debian's packages (installed with apt-get when absent).

    python -m bench.bench_proxy --duration 10 --connections 16
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from bench._net import free_port, wait_port

CLK_TCK = os.sysconf("SC_CLK_TCK")
BODY = json.dumps({"id": 1, "name": "x" * 1000})[:1024]


@dataclass
class Figures:
    target: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    proxy_cpu_us_per_request: float | None


def _ensure_tools() -> None:
    missing = [
        t
        for t in ("nginx", "wrk")
        if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()
    ]
    if missing:
        print(f"installing {', '.join(missing)} from Debian's packages...", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        pkgs = ["nginx-light" if t == "nginx" else t for t in missing]
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", *pkgs],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )


def _nginx_bin() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def write_nginx_conf(work: Path, up_port: int, extra: str = "") -> None:
    """``work/nginx.conf``: one worker serving ``work/body.json`` on ``up_port`` (the
    upstream every benchmark proxies to), plus ``extra`` server blocks."""
    (work / "nginx.conf").write_text(
        f"""
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
  uwsgi_temp_path {work}; scgi_temp_path {work};
  server {{ listen 127.0.0.1:{up_port};
    root {work};
    location / {{ default_type application/json; try_files /body.json =404; }} }}{extra}
}}
"""
    )


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def _children(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        for kid in kids:
            out.extend(_children(int(kid)))
    return out


def _wrk(url: str, duration: int, connections: int) -> tuple[float, float, float, int]:
    res = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    )
    text = res.stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not m:
            raise RuntimeError(f"cannot read {label} from wrk:\n{text}")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} failed responses:\n{text}")
    return rps, ms("50%"), ms("99%"), total


def _measure(name: str, url: str, pids: list[int], duration: int, connections: int) -> Figures:
    _wrk(url, 1, connections)  # warm-up: pools, caches
    before = _cpu_ticks(pids)
    rps, p50, p99, total = _wrk(url, duration, connections)
    ticks = _cpu_ticks(pids) - before
    cpu = (ticks / CLK_TCK) * 1e6 / total if pids else None
    return Figures(
        name,
        round(rps, 1),
        round(p50, 3),
        round(p99, 3),
        total,
        round(cpu, 1) if cpu is not None else None,
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    _ensure_tools()

    load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
    work = Path(tempfile.mkdtemp(prefix="strangler-bench-"))
    up_port, ngx_port, strangler_port = free_port(), free_port(), free_port()
    (work / "body.json").write_text(BODY)
    proxy_block = f"""
  upstream up {{ server 127.0.0.1:{up_port}; keepalive 64; }}
  server {{ listen 127.0.0.1:{ngx_port};
    location / {{ proxy_pass http://up; proxy_http_version 1.1;
                 proxy_set_header Connection ""; }} }}"""
    write_nginx_conf(work, up_port, proxy_block)
    (work / "strangler.yaml").write_text(
        f"legacy: http://127.0.0.1:{up_port}\nnew: http://127.0.0.1:{up_port}\n"
        f"store: sqlite:///{work}/store.db\nroutes: []\nadmin: {{port: 0}}\n"
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ngx = subprocess.Popen([_nginx_bin(), "-c", str(work / "nginx.conf"), "-p", str(work)])
        procs.append(ngx)
        wait_port(up_port)
        wait_port(ngx_port)
        stg = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "strangler",
                "serve",
                "-c",
                str(work / "strangler.yaml"),
                "--port",
                str(strangler_port),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
        )
        procs.append(stg)
        wait_port(strangler_port, 90)
        path = "/orgs/acme"
        nginx_workers = [p for p in _children(ngx.pid) if p != ngx.pid] or [ngx.pid]
        results = [
            _measure(
                "upstream", f"http://127.0.0.1:{up_port}{path}", [], args.duration, args.connections
            ),
            _measure(
                "nginx",
                f"http://127.0.0.1:{ngx_port}{path}",
                nginx_workers,
                args.duration,
                args.connections,
            ),
            _measure(
                "strangler",
                f"http://127.0.0.1:{strangler_port}{path}",
                _children(stg.pid),
                args.duration,
                args.connections,
            ),
        ]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)

    print(f"{'target':<10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11}")
    for f in results:
        cpu = f"{f.proxy_cpu_us_per_request:.1f}" if f.proxy_cpu_us_per_request is not None else "-"
        print(
            f"{f.target:<10} {f.requests_per_s:>10.1f} {f.p50_ms:>8.3f} {f.p99_ms:>8.3f} {cpu:>11}"
        )
    ngx_f, stg_f = results[1], results[2]
    ratio = None
    if ngx_f.proxy_cpu_us_per_request and stg_f.proxy_cpu_us_per_request:
        ratio = round(stg_f.proxy_cpu_us_per_request / ngx_f.proxy_cpu_us_per_request, 2)
    summary = {
        "bench": "proxy",
        "connections": args.connections,
        "duration_s": args.duration,
        "results": [asdict(f) for f in results],
        "cpu_ratio_strangler_over_nginx": ratio,
        "rps_ratio_strangler_over_nginx": round(stg_f.requests_per_s / ngx_f.requests_per_s, 3),
        "target_cpu_ratio": 3.0,
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(f"CPU per request, strangler / nginx: {ratio}x (target: at most 3x)")
    print(f"load average (1 min) before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
