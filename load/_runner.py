"""The load child process: locust as a library, progress and results as JSON lines.

locust monkey-patches the whole process with gevent on import, so it never runs in the CLI's
process: :mod:`load.run` starts this module in a child (locust imported first) with a JSON
spec on stdin, and reads one JSON object per line on stdout:

- ``{"event": "progress", "target": ..., "elapsed": ..., "requests": ..., ...}``
- ``{"event": "waiting", "workers": 1, "expect": 2}`` (master waiting for its workers)
- ``{"event": "result", "target": ..., "routes": [...], ...}`` one per target
- ``{"event": "worker_done", "requests": ...}`` (worker) and ``{"event": "error", ...}``

Anything else that writes to stdout (locust, gevent) is sent to stderr. The process ends by
itself: after its targets, or at its hard deadline (SIGALRM) whatever happens.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import gevent
from locust.env import Environment
from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner
from locust.stats import StatsEntry

from load._blocks import Tally, schedule
from load._user import TLSChoice, make_user_class
from strangler.backends import client_context, pin_server_hostname

__all__ = ["main"]


class Recorder:
    """Per route: a bounded reservoir of successful latencies (ms) and counts per status."""

    def __init__(self, cap: int, seed: int | None) -> None:
        self.cap = cap
        self.rng = random.Random(seed)
        self.total = 0
        self.reset()

    def reset(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self.seen: dict[str, int] = {}
        self.statuses: dict[str, dict[str, int]] = {}
        self.workers: dict[str, int] = {}
        self.worker_cpu: dict[str, float] = {}
        self.delta_samples: dict[str, list[float]] = {}
        self.delta_seen: dict[str, int] = {}
        self.delta_statuses: dict[str, dict[str, int]] = {}
        # this block's latencies (ms) per route, and each finished block's (p50, p95, count)
        self.block: dict[str, list[float]] = {}
        self.blocks: dict[str, list[list[float]]] = {}

    def end_block(self) -> None:
        """Close the current block: keep its p50 and p95 per route (what the gate pairs)."""
        for name, values in self.block.items():
            if values:
                values.sort()
                self.blocks.setdefault(name, []).append(
                    [_percentile(values, 0.5), _percentile(values, 0.95), len(values)]
                )
        self.block = {}

    def on_request(self, name: str, response_time: float, response: Any = None, **kw: Any) -> None:
        status = str(int(getattr(response, "status_code", 0) or 0))
        self.total += 1
        for table in (self.statuses, self.delta_statuses):
            counts = table.setdefault(name, {})
            counts[status] = counts.get(status, 0) + 1
        if kw.get("exception") is None:
            self.add(self.samples, self.seen, name, float(response_time))
            self._in_block(name, float(response_time))
            self.add(self.delta_samples, self.delta_seen, name, float(response_time))

    def add(
        self, pool: dict[str, list[float]], seen: dict[str, int], name: str, value: float
    ) -> None:
        """Algorithm R: every sample seen so far has the same chance to be kept."""
        kept = pool.setdefault(name, [])
        count = seen.get(name, 0) + 1
        seen[name] = count
        if len(kept) < self.cap:
            kept.append(value)
        else:
            slot = self.rng.randrange(count)
            if slot < self.cap:
                kept[slot] = value

    def _in_block(self, name: str, value: float) -> None:
        kept = self.block.setdefault(name, [])
        if len(kept) < self.cap:
            kept.append(value)

    def take_delta(self) -> dict[str, Any]:
        """What a worker sends its master with each report (then starts afresh)."""
        data = {"samples": self.delta_samples, "statuses": self.delta_statuses}
        self.delta_samples, self.delta_seen, self.delta_statuses = {}, {}, {}
        return data

    def merge(self, client_id: str, data: dict[str, Any]) -> None:
        """On the master: fold in one worker report."""
        ours = data.get("strangler") or {}
        for name, values in ours.get("samples", {}).items():
            for value in values:
                self.add(self.samples, self.seen, name, float(value))
                self._in_block(name, float(value))
        for name, counts in ours.get("statuses", {}).items():
            mine = self.statuses.setdefault(name, {})
            for status, n in counts.items():
                mine[status] = mine.get(status, 0) + int(n)
        sent = sum(int(e.get("num_requests", 0)) for e in data.get("stats", []))
        self.workers[client_id] = self.workers.get(client_id, 0) + sent
        if "strangler_cpu" in data:
            cpu = float(data["strangler_cpu"])
            self.worker_cpu[client_id] = max(self.worker_cpu.get(client_id, 0.0), cpu)


def _route_figures(tally: Tally, recorder: Recorder) -> list[dict[str, Any]]:
    names = sorted({name for name, _method in tally.entries} | set(recorder.statuses))
    seconds = tally.seconds
    out = []
    for name in names:
        parts = [e for (n, _m), e in tally.entries.items() if n == name]
        agg = (
            StatsEntry(parts[0].stats, name, "", use_response_times_cache=False) if parts else None
        )
        for entry in parts:
            assert agg is not None
            agg.extend(entry)
        requests = agg.num_requests if agg else 0
        samples = sorted(recorder.samples.get(name, []))
        p50: float | None
        p95: float | None
        p99: float | None
        if samples:  # successful requests, sub-millisecond precision
            p50, p95, p99 = (_percentile(samples, q) for q in (0.5, 0.95, 0.99))
        elif agg and requests:  # none succeeded: locust's histogram of all requests
            p50, p95, p99 = (agg.get_response_time_percentile(q) for q in (0.5, 0.95, 0.99))
        else:
            p50 = p95 = p99 = None
        out.append(
            {
                "route": name,
                "requests": requests,
                "failures": agg.num_failures if agg else 0,
                "rps": requests / seconds if seconds > 0 else 0.0,
                "p50": p50,
                "p95": p95,
                "p99": p99,
                "mean": agg.avg_response_time if agg and requests else None,
                "max": agg.max_response_time if agg and requests else None,
                "statuses": recorder.statuses.get(name, {}),
                "samples": [round(v, 3) for v in recorder.samples.get(name, [])],
                "blocks": recorder.blocks.get(name, []),
            }
        )
    return out


def _percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 3)


def _drive(
    env: Environment,
    runner: Any,
    active: list[Recorder],
    spec: dict[str, Any],
    emit: Callable[[dict[str, Any]], None],
) -> None:
    """Run the targets interleaved in short blocks (:mod:`load._blocks`), each for the
    spec's duration in all; emit progress per block and one result per target."""
    user_class = env.user_classes[0]
    targets = spec["targets"]
    recorders = [Recorder(active[0].cap, spec.get("seed")) for _ in targets]
    tallies = [Tally() for _ in targets]
    master = isinstance(runner, MasterRunner)
    for index, seconds in schedule(spec["duration"], float(spec.get("block", 0)), len(targets)):
        target, tally = targets[index], tallies[index]
        env.host = target["host"]
        user_class.host = target["host"]
        env.stats.clear_all()
        active[0] = recorders[index]
        started = time.monotonic()
        cpu_start = time.process_time()
        # users ramp up at the spawn rate once per target; later blocks resume at full load
        rate = spec["spawn_rate"] if not tally.seconds else max(spec["spawn_rate"], 1000.0)
        runner.start(spec["users"], spawn_rate=rate)
        elapsed = 0.0
        while elapsed < seconds:
            gevent.sleep(min(spec["progress_interval"], seconds - elapsed))
            elapsed = time.monotonic() - started
            done = tally.seconds + elapsed
            requests = tally.requests() + env.stats.total.num_requests
            emit(
                {
                    "event": "progress",
                    "target": target["name"],
                    "elapsed": round(done, 3),
                    "duration": spec["duration"],
                    "users": runner.user_count,
                    "requests": requests,
                    "failures": tally.failures() + env.stats.total.num_failures,
                    "rps": round(requests / done, 2) if done > 0 else 0.0,
                }
            )
        runner.stop()
        block_seconds = time.monotonic() - started
        if master:
            gevent.sleep(WORKER_REPORT_INTERVAL + 0.5)  # the workers' last reports
        tally.add_block(env.stats, block_seconds, time.process_time() - cpu_start)
        recorders[index].end_block()
    for target, tally, recorder in zip(targets, tallies, recorders, strict=True):
        cpu = tally.cpu_seconds / tally.seconds * 100 if tally.seconds > 0 else 0.0
        if master:
            cpu = max(recorder.worker_cpu.values(), default=0.0)
        emit(
            {
                "event": "result",
                "target": target["name"],
                "host": target["host"],
                "seconds": round(tally.seconds, 3),
                "users": spec["users"],
                "cpu_percent": round(cpu, 1),
                "workers": dict(recorder.workers),
                "routes": _route_figures(tally, recorder),
                "errors": tally.top_errors(),
            }
        )


def _wait_for_workers(
    runner: MasterRunner, spec: dict[str, Any], emit: Callable[[dict[str, Any]], None]
) -> bool:
    want = int(spec["expect_workers"])
    deadline = time.monotonic() + float(spec["worker_wait"])
    while len(runner.clients.ready) < want:
        if time.monotonic() > deadline:
            return False
        emit({"event": "waiting", "workers": len(runner.clients.ready), "expect": want})
        gevent.sleep(0.5)
    return True


def _tls_choices(settings: dict[str, dict[str, Any]]) -> dict[str, TLSChoice]:
    """Per target URL: locust's ``insecure`` flag and a factory of the backend's TLS context,
    the one the proxy uses (:func:`strangler._tls.client_context`)."""
    out: dict[str, TLSChoice] = {}
    for host, tls in settings.items():

        def factory(*_: Any, _tls: dict[str, Any] = tls, **__: Any) -> Any:
            # geventhttpclient offers its own CA bundle (cafile=...): the backend's trust wins
            context = client_context(
                ca_file=_tls["ca_file"],
                client_cert=_tls["client_cert"],
                client_key=_tls["client_key"],
                verify=_tls["verify"],
            )
            if _tls["server_hostname"]:
                pin_server_hostname(context, _tls["server_hostname"])
            return context

        out[host] = (not tls["verify"], factory)
    return out


def run(spec: dict[str, Any], emit: Callable[[dict[str, Any]], None]) -> int:
    """Run the spec; returns the process exit code."""
    user_class = make_user_class(
        spec["scenario"],
        think_time=float(spec["think_time"]),
        request_timeout=float(spec["request_timeout"]),
        seed=spec.get("seed"),
        tls=_tls_choices(spec.get("tls") or {}),
    )
    env = Environment(user_classes=[user_class], stop_timeout=0)
    # the recorder of the target running now (the load driver switches it per block)
    active = [Recorder(int(spec["sample_cap"]), spec.get("seed"))]
    env.events.request.add_listener(  # type: ignore[no-untyped-call]
        lambda *args, **kw: active[0].on_request(*args, **kw)
    )
    role = spec["role"]
    if role == "local":
        runner: Any = env.create_local_runner()
        _drive(env, runner, active, spec, emit)
        runner.quit()
        return 0
    if role == "master":
        runner = env.create_master_runner(spec["bind_host"], int(spec["master_port"]))
        env.events.worker_report.add_listener(  # type: ignore[no-untyped-call]
            lambda client_id, data: active[0].merge(client_id, data)
        )
        if not _wait_for_workers(runner, spec, emit):
            emit(
                {
                    "event": "error",
                    "detail": f"only {len(runner.clients.ready)} of {spec['expect_workers']} "
                    f"workers connected within {spec['worker_wait']:g} s",
                }
            )
            runner.quit()
            return 1
        _drive(env, runner, active, spec, emit)
        runner.quit()
        return 0
    # worker: everything (targets, users, duration) comes from the master
    last = [time.monotonic(), time.process_time()]

    def report(client_id: str, data: dict[str, Any]) -> None:
        now, cpu = time.monotonic(), time.process_time()
        data["strangler"] = active[0].take_delta()
        data["strangler_cpu"] = (cpu - last[1]) / max(now - last[0], 1e-6) * 100
        last[0], last[1] = now, cpu

    env.events.report_to_master.add_listener(  # type: ignore[no-untyped-call]
        report
    )
    runner = env.create_worker_runner(spec["master_host"], int(spec["master_port"]))
    emit({"event": "connected", "master": f"{spec['master_host']}:{spec['master_port']}"})
    runner.greenlet.join()
    emit({"event": "worker_done", "requests": active[0].total})
    return 0


def main(stdin: IO[str] | None = None) -> int:
    """Entry point of the child: read the spec, run, stream JSON lines."""
    spec = json.loads((stdin or sys.stdin).read())
    signal.alarm(max(1, int(spec["hard_deadline"])))  # default action ends the process
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # locust, gevent or a user's print never garble the JSON stream
    sys.stdout = sys.stderr

    def emit(event: dict[str, Any]) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    try:
        return run(spec, emit)
    except Exception as exc:  # reported to the parent, which raises LoadError
        emit({"event": "error", "detail": f"{type(exc).__name__}: {exc}"})
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
