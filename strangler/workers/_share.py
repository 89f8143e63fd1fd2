"""Each worker's counters in a shared run directory, and their sum.

``strangler serve --workers N`` gives every worker the same private directory. Every
second, off the event loop, a worker writes its registry to ``<dir>/<pid>.json`` (a temporary
file, then ``os.replace``: a reader never sees half a file). The files of workers that died
stay, so a worker restarted under a new pid adds to the total instead of resetting it.

The leading worker serves the sum: its own live registry plus every other worker's latest
file. The files are our own snapshot format (JSON of the collected families), not the
Prometheus text: decoding one is ~40x cheaper than parsing the exposition, and the leader
reads them every second for the rollback monitor::

    >>> shared = WorkerMetrics(proxy.metrics.registry, Path(run_dir))   # doctest: +SKIP
    >>> proxy.on_startup.append(shared.start)                           # doctest: +SKIP
    >>> generate_latest(shared)                # every worker's answers  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from strangler.workers._merge import Share, merge_families, requests_in

__all__ = ["SNAPSHOT_SUFFIX", "WorkerInfo", "WorkerMetrics", "this_worker"]

log = logging.getLogger("strangler.workers")

SNAPSHOT_SUFFIX = ".json"
"""Every worker's snapshot file is ``<pid>.json`` (``<pid>-<random>.json`` once retired)."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker as the admin side reports it (``GET /api/workers``)."""

    pid: int | None
    alive: bool
    leader: bool
    requests: int

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "alive": self.alive,
            "leader": self.leader,
            "requests": self.requests,
        }


def this_worker(registry: Collector | None) -> list[WorkerInfo]:
    """The single process of a one-worker proxy, as :class:`WorkerInfo`."""
    families = list(registry.collect()) if registry is not None else []
    return [WorkerInfo(os.getpid(), True, True, requests_in(families))]


def _encode(families: list[Metric]) -> bytes:
    return orjson.dumps(
        [
            [
                f.name,
                f.type,
                f.documentation,
                f.unit,
                [
                    [s.name, s.labels, s.value if math.isfinite(s.value) else str(s.value)]
                    for s in f.samples
                ],
            ]
            for f in families
        ]
    )


def _decode(data: bytes) -> tuple[Metric, ...]:
    families: list[Metric] = []
    for name, kind, documentation, unit, samples in orjson.loads(data):
        family = Metric(name, documentation, kind, unit)
        # floats as written; a string only for an infinite or NaN value
        family.samples = [
            Sample(n, labels, v if type(v) is float else float(v)) for n, labels, v in samples
        ]
        families.append(family)
    return tuple(families)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True  # no /proc here: existing is all we can tell
    # a dead worker stays a zombie until uvicorn's supervisor reaps it (up to a second)
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")


def _pid_of(name: str) -> tuple[int | None, bool]:
    """The pid a snapshot file was written by, and whether that pid still writes it."""
    stem = name.removesuffix(SNAPSHOT_SUFFIX)
    pid, dash, _ = stem.partition("-")
    if not pid.isdigit():
        return None, False
    return int(pid), not dash


class WorkerMetrics:
    """This worker's registry, shared through ``directory``; iterating it (``collect``)
    yields the sum over every worker that wrote there, this one's live values included.

    It is a prometheus_client ``Collector``: ``generate_latest(shared)`` is the whole proxy's
    exposition, and the rollback monitor's ``read_counters(shared)`` its counters.
    """

    def __init__(
        self,
        registry: Collector,
        directory: Path,
        *,
        interval: float = 1.0,
        pid: int | None = None,
    ) -> None:
        self.registry = registry
        self.directory = directory
        self.interval = interval
        self.pid = pid if pid is not None else os.getpid()
        self.path = directory / f"{self.pid}{SNAPSHOT_SUFFIX}"
        self._tmp = directory / f".{self.pid}{SNAPSHOT_SUFFIX}.tmp"
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._written: bytes | None = None
        self._written_at = 0.0  # time.monotonic() of the last snapshot
        self._claimed = False
        # file name -> ((inode, mtime, size), decoded families): a gone worker's file is
        # decoded once, a busy one's each time it changed
        self._cache: dict[str, tuple[tuple[int, int, int], tuple[Metric, ...]]] = {}
        self._task: asyncio.Task[None] | None = None

    # -- this worker's file ------------------------------------------------------------------

    def _claim(self) -> None:
        """Retire a file left under this pid by an earlier process (pids get reused), so
        its counts stay in the sum instead of being overwritten."""
        if self._claimed:
            return
        self._claimed = True
        if self.path.exists():
            retired = self.directory / f"{self.pid}-{uuid.uuid4().hex[:8]}{SNAPSHOT_SUFFIX}"
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.path, retired)

    def write(self) -> list[Metric]:
        """Snapshot this worker's registry into its file; returns the families written.

        One lock around reading and writing: a slower, older snapshot can never replace a
        newer one, so the file only moves forward.
        """
        with self._write_lock:
            self._claim()
            families = list(self.registry.collect())
            data = _encode(families)
            if data != self._written:
                self._tmp.write_bytes(data)
                os.replace(self._tmp, self.path)
                self._written = data
            self._written_at = time.monotonic()
            return families

    async def start(self) -> None:
        """Write the first snapshot, then one every ``interval`` seconds."""
        if self._task is None:
            await asyncio.to_thread(self.write)
            self._task = asyncio.create_task(self._run(), name="strangler-worker-metrics")

    async def stop(self) -> None:
        """Stop the writer and write the last snapshot (a graceful stop loses no count)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await asyncio.to_thread(self.write)
        except OSError as exc:  # the directory went first (the parent removes it at exit)
            log.debug("last metrics snapshot not written: %s", exc)

    async def _run(self) -> None:
        while True:
            # the leader also snapshots on each read of the sum: no second write then
            due = self._written_at + self.interval - time.monotonic()
            if due > 0:
                await asyncio.sleep(due)
                continue
            try:
                await asyncio.to_thread(self.write)
            except OSError as exc:
                log.warning("metrics snapshot not written to %s: %s", self.path, exc)
                await asyncio.sleep(self.interval)

    # -- every worker ------------------------------------------------------------------------

    def _others(self) -> list[Share]:
        shares: list[Share] = []
        cache: dict[str, tuple[tuple[int, int, int], tuple[Metric, ...]]] = {}
        with self._read_lock:
            try:
                entries = list(os.scandir(self.directory))
            except FileNotFoundError:
                return []
            for entry in entries:
                name = entry.name
                if not name.endswith(SNAPSHOT_SUFFIX) or name == self.path.name:
                    continue
                try:
                    st = entry.stat()
                    key = (st.st_ino, st.st_mtime_ns, st.st_size)
                    hit = self._cache.get(name)
                    if hit is not None and hit[0] == key:
                        families = hit[1]
                    else:
                        families = _decode(Path(entry.path).read_bytes())
                except (OSError, ValueError, TypeError) as exc:  # removed, or not a snapshot
                    log.debug("metrics snapshot %s skipped: %s", name, exc)
                    continue
                cache[name] = (key, families)
                pid, current = _pid_of(name)
                alive = current and pid is not None and _alive(pid)
                shares.append(Share(pid, alive, families))
            self._cache = cache
        return shares

    def shares(self) -> list[Share]:
        """This worker's live families (written to its file on the way), then the others'."""
        return [Share(self.pid, True, tuple(self.write())), *self._others()]

    def collect(self) -> Iterator[Metric]:
        """The sum over every worker (a prometheus_client collector)."""
        yield from merge_families(self.shares())

    def workers(self) -> list[WorkerInfo]:
        """Every worker that wrote here, this one first, with the answers each counted."""
        return [
            WorkerInfo(s.pid, s.alive, s.pid == self.pid, requests_in(s.families))
            for s in self.shares()
        ]
