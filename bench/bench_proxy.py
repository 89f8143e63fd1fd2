"""Proxy CPU per request, side by side in one run: nginx ``proxy_pass`` against strangler.

Honest by construction:

- the upstream is its own nginx process (never counted), serving a 1 KB JSON body;
- the nginx proxy is a second nginx process whose CPU is read from /proc;
- strangler is ``strangler serve`` with declared routes; only its own process tree counts;
- each strangler target is a real route: ``GET /orgs/{slug}`` in mode ``legacy``,
  ``GET /forms/{id}`` in mode ``new``, ``GET /canary/{id}`` in mode ``canary`` (50 %,
  sticky by a header wrk sends), and the catch-all (a path no route declares);
- the targets are measured in interleaved rounds (every target once per round, ``--rounds``
  rounds), so a change in the machine's load hits all of them; the ratio is the median over
  the rounds of strangler's CPU per request over nginx's in the same round.

Targets (issue 16): legacy, new and catch-all at most 3x nginx's CPU per request, canary at
most 3.5x. The exit code is 1 when a target is missed. wrk and nginx come from Debian's
packages (installed with apt-get when absent)::

    python -m bench.bench_proxy --duration 5 --connections 16 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from bench._net import free_port, wait_port

CLK_TCK = os.sysconf("SC_CLK_TCK")
BODY = json.dumps({"id": 1, "name": "x" * 1000})[:1024]
# target name -> (path, the CPU ratio it must stay under)
STRANGLER_TARGETS = {
    "legacy route": ("/orgs/acme", 3.0),
    "new route": ("/forms/42", 3.0),
    "catch-all": ("/not/declared/anywhere", 3.0),
    "canary route": ("/canary/7", 3.5),
}


@dataclass
class Figures:
    target: str
    round: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    cpu_us_per_request: float | None


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


def write_nginx_conf(work: Path, name: str, server_block: str) -> Path:
    """``work/<name>.conf``: one nginx worker with ``server_block``; returns its path."""
    conf = work / f"{name}.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
pid {work}/{name}.pid;
error_log {work}/{name}-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
  uwsgi_temp_path {work}; scgi_temp_path {work};
{server_block}
}}
"""
    )
    return conf


def upstream_block(work: Path, port: int) -> str:
    """An nginx server that answers every path with ``work/body.json``."""
    return f"""  server {{ listen 127.0.0.1:{port};
    root {work};
    location / {{ default_type application/json; try_files /body.json =404; }} }}"""


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for kid in (task / "children").read_text().split():
            out.extend(_tree(int(kid)))
    return out


def _wrk(url: str, duration: int, connections: int) -> tuple[float, float, float, int]:
    res = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-H",
            "X-User-Id: bench-user",
            url,
        ],
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


def measure(
    name: str, n: int, url: str, pids: list[int], duration: int, connections: int
) -> Figures:
    """wrk against ``url`` for ``duration`` s; CPU per request of ``pids`` (None: not counted)."""
    before = _cpu_ticks(pids)
    rps, p50, p99, total = _wrk(url, duration, connections)
    ticks = _cpu_ticks(pids) - before
    cpu = (ticks / CLK_TCK) * 1e6 / total if pids else None
    cpu = round(cpu, 1) if cpu is not None else None
    return Figures(name, n, round(rps, 1), round(p50, 3), round(p99, 3), total, cpu)


def _strangler_config(work: Path, up_port: int) -> Path:
    path = work / "strangler.yaml"
    path.write_text(
        f"legacy: http://127.0.0.1:{up_port}\nnew: http://127.0.0.1:{up_port}\n"
        f"store: sqlite:///{work}/store.db\nadmin: {{port: 0}}\n"
        "routes:\n"
        '  - {route: "GET /orgs/{slug}", mode: legacy}\n'
        '  - {route: "GET /forms/{id}", mode: new}\n'
        '  - {route: "GET /canary/{id}", mode: canary, percent: 50, sticky: "header:X-User-Id",'
        " shadow: {canary: false}}\n"  # the split itself; shadowing is bench_shadow's
    )
    return path


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def _summary(results: list[Figures], rounds: int) -> dict[str, dict[str, float]]:
    """Per strangler target: the median over rounds of its CPU/request over nginx's."""
    out: dict[str, dict[str, float]] = {}
    for name, (_, limit) in STRANGLER_TARGETS.items():
        ratios, cpus = [], []
        for n in range(rounds):
            ngx = next(f for f in results if f.target == "nginx" and f.round == n)
            own = next(f for f in results if f.target == name and f.round == n)
            if ngx.cpu_us_per_request and own.cpu_us_per_request:
                ratios.append(own.cpu_us_per_request / ngx.cpu_us_per_request)
                cpus.append(own.cpu_us_per_request)
        out[name] = {
            "median_cpu_us_per_request": round(statistics.median(cpus), 1),
            "median_ratio": round(statistics.median(ratios), 2),
            "ratios": [round(r, 2) for r in ratios],  # type: ignore[dict-item]
            "target": limit,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=int, default=5, help="seconds per target and round")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    _ensure_tools()

    load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
    work = Path(tempfile.mkdtemp(prefix="strangler-bench-"))
    up_port, ngx_port, stg_port = free_port(), free_port(), free_port()
    (work / "body.json").write_text(BODY)
    up_conf = write_nginx_conf(work, "upstream", upstream_block(work, up_port))
    ngx_conf = write_nginx_conf(
        work,
        "proxy",
        f"""  upstream up {{ server 127.0.0.1:{up_port}; keepalive 64; }}
  server {{ listen 127.0.0.1:{ngx_port};
    location / {{ proxy_pass http://up; proxy_http_version 1.1;
                 proxy_set_header Connection ""; }} }}""",
    )
    procs: list[subprocess.Popen[bytes]] = []
    results: list[Figures] = []
    try:
        for conf in (up_conf, ngx_conf):
            procs.append(subprocess.Popen([_nginx_bin(), "-c", str(conf), "-p", str(work)]))
        stg = subprocess.Popen(
            [
                *(sys.executable, "-m", "strangler", "serve"),
                *("-c", str(_strangler_config(work, up_port))),
                *("--port", str(stg_port), "--log-level", "warning"),
            ],
            stdout=subprocess.DEVNULL,
        )
        procs.append(stg)
        for port in (up_port, ngx_port):
            wait_port(port)
        wait_port(stg_port, 90)
        ngx_pids = _tree(procs[1].pid)
        targets: list[tuple[str, str, list[int]]] = [
            ("upstream", f"http://127.0.0.1:{up_port}/orgs/acme", []),
            ("nginx", f"http://127.0.0.1:{ngx_port}/orgs/acme", ngx_pids),
        ]
        targets += [
            (name, f"http://127.0.0.1:{stg_port}{path}", _tree(stg.pid))
            for name, (path, _) in STRANGLER_TARGETS.items()
        ]
        for _, url, _ in targets:
            _wrk(url, 1, args.connections)  # warm-up: pools, caches, route tables
        for n in range(args.rounds):
            for name, url, pids in targets:
                results.append(measure(name, n, url, pids, args.duration, args.connections))
    finally:
        _stop(procs)
        shutil.rmtree(work, ignore_errors=True)

    load_after = os.getloadavg()[0]
    print(
        f"{'target':<14} {'round':>5} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11}"
    )
    for f in results:
        cpu = f"{f.cpu_us_per_request:.1f}" if f.cpu_us_per_request is not None else "-"
        print(
            f"{f.target:<14} {f.round:>5} {f.requests_per_s:>10.1f} {f.p50_ms:>8.3f} "
            f"{f.p99_ms:>8.3f} {cpu:>11}"
        )
    summary = _summary(results, args.rounds)
    missed = []
    for name, s in summary.items():
        ok = s["median_ratio"] <= s["target"]
        if not ok:
            missed.append(name)
        print(
            f"{name:<14} CPU per request {s['median_cpu_us_per_request']:.1f} µs = "
            f"{s['median_ratio']}x nginx (median of {s['ratios']}; target at most "
            f"{s['target']}x: {'ok' if ok else 'MISSED'})"
        )
    print(f"load average (1 min) before / after: {load_before:.2f} / {load_after:.2f}")
    print(
        json.dumps(
            {
                "bench": "proxy",
                "connections": args.connections,
                "duration_s": args.duration,
                "rounds": args.rounds,
                "results": [asdict(f) for f in results],
                "summary": summary,
                "load_average_1m": [round(load_before, 2), round(load_after, 2)],
            }
        )
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
