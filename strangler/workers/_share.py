"""Each worker's counters in a shared run directory, and their sum.

``strangler serve --workers N`` gives every worker the same private directory. Every
second, off the event loop, a worker writes its registry to ``<dir>/<pid>.json`` (a temporary
file, then ``os.replace``: a reader never sees half a file).

The leading worker serves the sum: its own live registry, every other live worker's latest
file, and the sum of the dead ones, into which it folds each dead worker's last file
(``retired.json``, see :mod:`strangler.workers._files`). So a worker that uvicorn restarts
under a new pid adds to the total instead of resetting it, and a thousand restarts leave
one file to read::

    >>> shared = WorkerMetrics(proxy.metrics.registry, Path(run_dir))   # doctest: +SKIP
    >>> proxy.on_startup.append(shared.start)                           # doctest: +SKIP
    >>> generate_latest(shared)                # every worker's answers  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from strangler._tasks import cancel
from strangler.workers._files import (
    RETIRED_NAME,
    SNAPSHOT_SUFFIX,
    Retired,
    alive,
    decode_families,
    encode_families,
    identity,
    pid_of,
    replace_file,
)
from strangler.workers._merge import Share, merge_families, requests_in

__all__ = ["WorkerInfo", "WorkerMetrics", "this_worker"]

log = logging.getLogger("strangler.workers")


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
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._written: bytes | None = None
        self._written_at = 0.0  # time.monotonic() of the last snapshot
        self._claimed = False
        # file name -> (identity, decoded families): a file is decoded again only once it
        # changed (a busy worker's every second)
        self._cache: dict[str, tuple[tuple[int, int, int], tuple[Metric, ...]]] = {}
        self._retired: tuple[tuple[int, int, int] | None, Retired] = (None, Retired())
        self._broken: tuple[int, int, int] | None = None  # an unreadable retired.json
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
            data = encode_families(families)
            if data != self._written:
                replace_file(self.path, data)
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
        await cancel(task)
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

    def _load_retired(self) -> Retired | None:
        """The gone workers' sum; None when its file cannot be read (then nothing is folded
        into it: overwriting it would lose what it holds)."""
        path = self.directory / RETIRED_NAME
        try:
            key = identity(path.stat())
            if self._retired[0] == key:
                return self._retired[1]
            retired = Retired.decode(path.read_bytes())
        except FileNotFoundError:
            return Retired()
        except (OSError, ValueError, TypeError, KeyError) as exc:
            if self._broken != key:
                self._broken = key
                log.error("%s cannot be read (%s); its workers are not counted", path, exc)
            return None
        self._retired = (key, retired)
        return retired

    def _others(self) -> tuple[list[Share], Retired]:
        """The other live workers' shares, and the gone workers' sum (newly dead workers'
        files folded into it on the way)."""
        with self._read_lock:
            try:
                entries = list(os.scandir(self.directory))
            except FileNotFoundError:
                return [], Retired()
            loaded = self._load_retired()
            retired = loaded if loaded is not None else Retired()
            live: list[Share] = []
            dead: list[tuple[Path, tuple[int, int, int], Share]] = []
            kept: set[tuple[int, int, int]] = set()  # absorbed files still there
            seen: set[tuple[int, int, int]] = set()  # one file under two names counts once
            cache: dict[str, tuple[tuple[int, int, int], tuple[Metric, ...]]] = {}
            for entry in entries:
                name = entry.name
                if (
                    not name.endswith(SNAPSHOT_SUFFIX)
                    or name in (self.path.name, RETIRED_NAME)
                    or name.startswith(".")
                ):
                    continue
                try:
                    key = identity(entry.stat())
                    if key in seen:
                        continue
                    seen.add(key)
                    if key in retired.absorbed:  # summed already; its removal was cut short
                        if not _remove(Path(entry.path), key):
                            kept.add(key)
                        continue
                    hit = self._cache.get(name)
                    if hit is not None and hit[0] == key:
                        families = hit[1]
                    else:
                        families = decode_families(Path(entry.path).read_bytes())
                except (OSError, ValueError, TypeError) as exc:  # removed, or not a snapshot
                    log.debug("metrics snapshot %s skipped: %s", name, exc)
                    continue
                cache[name] = (key, families)
                pid, current = pid_of(name)
                if current and pid is not None and alive(pid):
                    live.append(Share(pid, True, families))
                else:
                    dead.append((Path(entry.path), key, Share(pid, False, families)))
            self._cache = cache
            if dead and loaded is not None:
                retired = self._retire(retired, kept, dead)
            elif dead:  # summed one by one while retired.json is unreadable
                live.extend(share for _, _, share in dead)
            return live, retired

    def _retire(
        self,
        retired: Retired,
        kept: set[tuple[int, int, int]],
        dead: list[tuple[Path, tuple[int, int, int], Share]],
    ) -> Retired:
        """Fold dead workers' files into ``retired.json``, then remove them. Killed between
        the two steps, the files stay but are known as absorbed: never counted twice."""
        shares = [share for _, _, share in dead]
        folded = Retired(
            tuple(merge_families([Share(None, False, retired.families), *shares])),
            frozenset(kept | {key for _, key, _ in dead}),
            (*retired.gone, *((s.pid, requests_in(s.families)) for s in shares)),
        )
        path = self.directory / RETIRED_NAME
        try:
            replace_file(path, folded.encode())
            self._retired = (identity(path.stat()), folded)
        except OSError as exc:  # counted from their own files until it works
            log.warning("gone workers' metrics not folded into %s: %s", path, exc)
            return Retired(
                tuple(merge_families([Share(None, False, retired.families), *shares])),
                retired.absorbed,
                folded.gone,
            )
        for file, key, _ in dead:
            _remove(file, key)
        return folded

    def shares(self) -> list[Share]:
        """This worker's live families (written to its file on the way), the other live
        workers', and the gone workers' sum."""
        live, retired = self._others()
        return [
            Share(self.pid, True, tuple(self.write())),
            *live,
            Share(None, False, retired.families),
        ]

    def collect(self) -> Iterator[Metric]:
        """The sum over every worker (a prometheus_client collector)."""
        yield from merge_families(self.shares())

    def workers(self) -> list[WorkerInfo]:
        """This worker, the other live ones, then the gone ones, with the answers each
        counted."""
        mine = WorkerInfo(self.pid, True, True, requests_in(self.write()))
        live, retired = self._others()
        return [
            mine,
            *(WorkerInfo(s.pid, s.alive, False, requests_in(s.families)) for s in live),
            *(WorkerInfo(pid, False, False, n) for pid, n in retired.gone),
        ]


def _remove(path: Path, key: tuple[int, int, int]) -> bool:
    """Remove ``path`` if it is still the file ``key`` names; whether it is gone."""
    try:
        if identity(path.stat()) != key:
            return True  # another file by now (a pid came back): not ours to remove
        path.unlink()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
