"""Run locust in a child process and collect its results (the parent side).

locust patches its process with gevent, so it never runs here: :func:`run_load` starts
``load._runner`` in a child with a JSON spec, turns its JSON lines into :class:`Progress`
callbacks and :class:`TargetResult` values, and kills the child if it outlives its hard
deadline. Every run is bounded in time::

    >>> spec = RunSpec(scenario, (Target("new", "http://127.0.0.1:8002"),), duration=5)  # doctest: +SKIP
    >>> [result] = run_load(spec, on_event=print)                                     # doctest: +SKIP
    >>> result.route("GET /orgs/{slug}").p95                                          # doctest: +SKIP
    12.0
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from load.results import Progress, TargetResult
from load.scenario import Scenario
from strangler import ConfigError, LoadError
from strangler.config import BackendConfig, Config, TLSConfig

__all__ = [
    "RunSpec",
    "Target",
    "WorkerWait",
    "resolve_target",
    "run_load",
    "run_worker",
    "trusted_targets",
]

log = logging.getLogger("strangler.tls")

Role = Literal["local", "master", "worker"]
TARGETS = ("legacy", "new", "proxy")
# Locust must be imported first in the child, before anything else touches the stdlib.
_CHILD = "import locust.env, sys; from load._runner import main; sys.exit(main())"
_STARTUP_GRACE = 30.0
_DRAIN = 4.0  # a master waits for its workers' last reports after each target


@dataclass(frozen=True, slots=True)
class Target:
    """Where the load goes: ``name`` (legacy, new, proxy) and its base URL.

    ``tls`` is how an ``https://`` backend is trusted, as the proxy trusts it (its ``tls``
    settings, or the system store); None leaves locust's own choice (the proxy target).
    """

    name: str
    host: str
    tls: TLSConfig | None = None


@dataclass(frozen=True, slots=True)
class WorkerWait:
    """A master is waiting for its workers to connect."""

    connected: int
    expect: int


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything the load child needs; one child runs its targets interleaved in short blocks."""

    scenario: Scenario
    targets: tuple[Target, ...]
    users: int = 10
    spawn_rate: float = 10.0
    duration: float = 60.0
    think_time: float = 0.0
    request_timeout: float = 30.0
    sample_cap: int = 5000
    seed: int | None = None
    role: Role = "local"
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    bind_host: str = "127.0.0.1"
    expect_workers: int = 1
    worker_wait: float = 60.0
    progress_interval: float = 0.5
    #: Seconds per block: the targets run interleaved in alternating blocks of about this
    #: length (A B, B A, ...), so load drift on the machine hits every side alike; 0 runs
    #: each target once, one after the other.
    block: float = 2.0
    #: Backends whose TLS settings apply when load is sent to them, beyond ``targets``: a
    #: worker learns its target from the master, so it is given both (see trusted_targets).
    trust: tuple[Target, ...] = ()

    @property
    def block_seconds(self) -> float:
        """The block length used: a master waits for its workers' reports after each
        block, so its blocks are at least 10 s."""
        return max(self.block, 10.0) if self.role != "local" and self.block > 0 else self.block

    @property
    def hard_deadline(self) -> float:
        """Seconds after which the child is ended, whatever it is doing."""
        per_target = self.duration + self.request_timeout + _DRAIN
        waiting = self.worker_wait if self.role != "local" else 0.0
        # each block ends with a drain (and, on a master, the workers' last reports)
        blocks = math.ceil(self.duration / self.block_seconds) if self.block > 0 else 1
        waiting += blocks * max(len(self.targets), 2) * (5.0 if self.role != "local" else 0.5)
        if self.role == "worker":
            # a worker does not know the master's targets: allow legacy + new
            return 2 * per_target + waiting + _STARTUP_GRACE
        return len(self.targets) * per_target + waiting + _STARTUP_GRACE

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.to_json(),
            "targets": [{"name": t.name, "host": t.host} for t in self.targets],
            "tls": {t.host: t.tls.model_dump() for t in (*self.trust, *self.targets) if t.tls},
            "users": self.users,
            "spawn_rate": self.spawn_rate,
            "duration": self.duration,
            "think_time": self.think_time,
            "request_timeout": self.request_timeout,
            "sample_cap": self.sample_cap,
            "seed": self.seed,
            "role": self.role,
            "master_host": self.master_host,
            "master_port": self.master_port,
            "bind_host": self.bind_host,
            "expect_workers": self.expect_workers,
            "worker_wait": self.worker_wait,
            "progress_interval": self.progress_interval,
            "block": self.block_seconds,
            "hard_deadline": self.hard_deadline,
        }


def resolve_target(
    config: Config, name: str, *, proxy_url: str = "http://127.0.0.1:8000"
) -> Target:
    """The configured backend ``name`` (legacy, new) or the proxy, as a load target.

    In-process backends (``module:attr``) have no URL to load: a ConfigError says so.
    """
    if name == "proxy":
        if not proxy_url.startswith(("http://", "https://")):
            raise ConfigError("--proxy-url", proxy_url, "the proxy's http(s):// base URL")
        return Target("proxy", proxy_url.rstrip("/"))
    if name not in ("legacy", "new"):
        raise ConfigError("--target", name, "legacy, new, proxy or both")
    backend = config.legacy if name == "legacy" else config.new
    if not backend.is_remote:
        raise ConfigError(
            name,
            backend.target,
            "an http(s):// URL: an in-process app cannot be load-tested; serve it "
            f"(e.g. `uvicorn {backend.target}`) and set {name}: http://HOST:PORT",
            file=config.source,
        )
    tls = _trust(backend)
    _warn_unverified(name, tls)
    return Target(name, backend.target, tls)


def _trust(backend: BackendConfig) -> TLSConfig | None:
    if not backend.target.startswith("https://"):
        return None
    return backend.tls or TLSConfig()


def _warn_unverified(name: str, tls: TLSConfig | None) -> None:
    if tls is not None and not tls.verify:
        log.warning(
            "%s.tls.verify is false: the load test does NOT check %s's certificate", name, name
        )


def trusted_targets(config: Config) -> tuple[Target, ...]:
    """The configured ``https://`` backends with their TLS settings (for a worker's spec)."""
    found = ((n, b) for n, b in (("legacy", config.legacy), ("new", config.new)))
    return tuple(Target(n, b.target, _trust(b)) for n, b in found if _trust(b) is not None)


EventCallback = Callable[[Progress | WorkerWait], None]


def run_load(spec: RunSpec, on_event: EventCallback | None = None) -> list[TargetResult]:
    """Run ``spec`` (local or master) in a child; one result per target, in order."""
    if spec.role == "worker":
        raise ValueError("use run_worker for a worker")
    results: list[TargetResult] = []

    def handle(event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "progress" and on_event:
            on_event(
                Progress(
                    target=str(event["target"]),
                    elapsed=float(event["elapsed"]),
                    duration=float(event["duration"]),
                    users=int(event["users"]),
                    requests=int(event["requests"]),
                    failures=int(event["failures"]),
                    rps=float(event["rps"]),
                )
            )
        elif kind == "waiting" and on_event:
            on_event(WorkerWait(int(event["workers"]), int(event["expect"])))
        elif kind == "result":
            results.append(TargetResult.from_json(event))

    where = (
        spec.targets[0].name if len(spec.targets) == 1 else "+".join(t.name for t in spec.targets)
    )
    _run_child(spec, handle, where)
    if len(results) != len(spec.targets):
        raise LoadError(
            where, f"the load process gave {len(results)} of {len(spec.targets)} results"
        )
    return results


def run_worker(spec: RunSpec, on_connected: Callable[[str], None] | None = None) -> int:
    """Run a locust worker for a master; returns how many requests this worker sent."""
    sent: list[int] = []

    def handle(event: dict[str, Any]) -> None:
        if event.get("event") == "connected" and on_connected:
            on_connected(str(event["master"]))
        elif event.get("event") == "worker_done":
            sent.append(int(event["requests"]))

    _run_child(spec, handle, "worker")
    return sent[0] if sent else 0


def _run_child(spec: RunSpec, handle: Callable[[dict[str, Any]], None], where: str) -> None:
    deadline = time.monotonic() + spec.hard_deadline + 10
    error: str | None = None
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as stderr,
        subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
            env={**os.environ, "PYTHONWARNINGS": "ignore"},  # gevent's patching notices
        ) as proc,
    ):
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(proc, lines), daemon=True)
        reader.start()
        try:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(spec.to_json()))
            proc.stdin.close()
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LoadError(
                        where,
                        f"the load process outlived its deadline ({spec.hard_deadline:.0f} s)",
                    )
                try:
                    line = lines.get(timeout=min(remaining, 1.0))
                except queue.Empty:
                    continue
                if line is None:
                    break
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if event.get("event") == "error":
                    error = str(event.get("detail"))
                handle(event)
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            reader.join(timeout=5)
        if code != 0 or error:
            stderr.seek(0)
            tail = " | ".join(stderr.read().strip().splitlines()[-5:])
            detail = error or f"the load process exited with code {code}"
            raise LoadError(where, detail + (f" ({tail})" if tail and not error else ""))


def _read_lines(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)
    lines.put(None)
