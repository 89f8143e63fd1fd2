"""Workers sharing their counters through real files in a real directory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from strangler.metrics import ProxyMetrics
from strangler.rollback_monitor import read_counters
from strangler.workers import RETIRED_NAME, WorkerMetrics

ROUTE = "GET /orgs/{slug}"


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[bytes]]:
    """A real process whose pid plays the second worker's."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


def _answer(m: ProxyMetrics, side: str, n: int) -> None:
    for _ in range(n):
        m.request(ROUTE, "canary", side, 200, 0.003)


def _served(shared: WorkerMetrics) -> dict[str, float]:
    counters = read_counters(shared).get(ROUTE)
    if counters is None:
        return {"legacy": 0, "new": 0}
    return {"legacy": counters.legacy.served, "new": counters.new.served}


def test_the_leader_sums_its_live_counts_and_the_other_workers_files(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    mine, theirs = ProxyMetrics(), ProxyMetrics()
    leader = WorkerMetrics(mine.registry, tmp_path)
    other = WorkerMetrics(theirs.registry, tmp_path, pid=other_process.pid)
    _answer(mine, "legacy", 4)
    _answer(theirs, "new", 6)
    other.write()
    assert _served(leader) == {"legacy": 4, "new": 6}
    # the leader's own answers count at once; the other's once its file says so
    _answer(mine, "new", 1)
    _answer(theirs, "new", 10)
    assert _served(leader) == {"legacy": 4, "new": 7}
    other.write()
    assert _served(leader) == {"legacy": 4, "new": 17}
    # reading the sum wrote the leader's own file too: whoever leads next starts from it
    assert sorted(p.name for p in tmp_path.glob("*.json")) == sorted(
        [f"{os.getpid()}.json", f"{other_process.pid}.json"]
    )
    workers = {w.pid: w for w in leader.workers()}
    assert workers[os.getpid()].requests == 5
    assert workers[os.getpid()].leader
    assert workers[other_process.pid].requests == 16
    assert workers[other_process.pid].alive
    assert not workers[other_process.pid].leader


def test_a_dead_workers_counts_stay_but_its_open_sessions_go(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    mine, theirs = ProxyMetrics(), ProxyMetrics()
    leader = WorkerMetrics(mine.registry, tmp_path)
    other = WorkerMetrics(theirs.registry, tmp_path, pid=other_process.pid)
    _answer(theirs, "legacy", 9)
    theirs.websocket_opened(ROUTE, "legacy")
    other.write()
    text = _exposition(leader)
    assert 'strangler_websocket_open{route="GET /orgs/{slug}",side="legacy"} 1.0' in text

    # killed and not reaped yet (a zombie, as until uvicorn's supervisor notices): dead
    other_process.kill()
    deadline = time.monotonic() + 30
    while next(w for w in leader.workers() if w.pid == other_process.pid).alive:
        assert time.monotonic() < deadline, "a killed worker still counts as alive"
        time.sleep(0.02)
    assert other_process.returncode is None
    assert _served(leader) == {"legacy": 9, "new": 0}
    # folded into the gone workers' sum, its own file removed
    assert (tmp_path / RETIRED_NAME).exists()
    assert not other.path.exists()
    text = _exposition(leader)
    assert 'strangler_websocket_open{route="GET /orgs/{slug}",side="legacy"}' not in text
    dead = next(w for w in leader.workers() if w.pid == other_process.pid)
    assert (dead.alive, dead.requests) == (False, 9)


def _dead_pids(n: int) -> list[int]:
    """Pids of processes that ran and are gone (reaped)."""
    procs = [subprocess.Popen([sys.executable, "-c", "pass"]) for _ in range(n)]
    for p in procs:
        p.wait(timeout=60)
    return [p.pid for p in procs]


def test_many_restarts_leave_one_file_and_every_count(tmp_path: Path) -> None:
    mine = ProxyMetrics()
    leader = WorkerMetrics(mine.registry, tmp_path)
    gone = _dead_pids(6)
    for round_ in range(3):  # workers die a few at a time, between the leader's reads
        for pid in gone[round_ * 2 : round_ * 2 + 2]:
            m = ProxyMetrics()
            _answer(m, "new", pid % 7 + 1)
            WorkerMetrics(m.registry, tmp_path, pid=pid).write()
        leader.collect()
    expected = sum(pid % 7 + 1 for pid in gone)
    assert _served(leader) == {"legacy": 0, "new": expected}
    assert sorted(p.name for p in tmp_path.glob("*.json")) == sorted(
        [RETIRED_NAME, f"{os.getpid()}.json"]
    )
    listed = {w.pid: (w.alive, w.requests) for w in leader.workers() if not w.leader}
    assert listed == {pid: (False, pid % 7 + 1) for pid in gone}
    # the next leader (another process) reads the same sum
    again = WorkerMetrics(ProxyMetrics().registry, tmp_path, pid=_dead_pids(1)[0])
    assert _served(again)["new"] == expected


def test_a_file_folded_in_but_not_yet_removed_is_not_counted_twice(tmp_path: Path) -> None:
    (pid,) = _dead_pids(1)
    m = ProxyMetrics()
    _answer(m, "legacy", 4)
    dead = WorkerMetrics(m.registry, tmp_path, pid=pid)
    dead.write()
    kept = tmp_path / "kept"
    kept.mkdir()
    os.link(dead.path, kept / "same-file")  # the same inode, out of the leader's sight
    leader = WorkerMetrics(ProxyMetrics().registry, tmp_path)
    assert _served(leader) == {"legacy": 4, "new": 0}
    assert not dead.path.exists()
    # put back: what a leader killed between folding the file in and removing it leaves
    os.link(kept / "same-file", dead.path)
    assert _served(leader) == {"legacy": 4, "new": 0}
    assert not dead.path.exists()
    # and one file under two names is one worker's answers, counted once
    (other,) = _dead_pids(1)
    m = ProxyMetrics()
    _answer(m, "legacy", 3)
    twice = WorkerMetrics(m.registry, tmp_path, pid=other)
    twice.write()
    os.link(twice.path, tmp_path / f"{other}-again.json")
    assert _served(leader) == {"legacy": 7, "new": 0}


def test_a_reused_pid_does_not_overwrite_the_earlier_workers_counts(tmp_path: Path) -> None:
    before, after = ProxyMetrics(), ProxyMetrics()
    _answer(before, "legacy", 3)
    WorkerMetrics(before.registry, tmp_path, pid=4242).write()
    # a later worker that got the same pid from the kernel
    again = WorkerMetrics(after.registry, tmp_path, pid=4242)
    _answer(after, "legacy", 2)
    again.write()
    assert len(list(tmp_path.glob("4242*.json"))) == 2
    assert _served(again) == {"legacy": 5, "new": 0}


def test_a_stray_or_broken_file_is_skipped(tmp_path: Path) -> None:
    mine = ProxyMetrics()
    _answer(mine, "new", 2)
    (tmp_path / "777.json").write_bytes(b"{not json")
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    assert _served(WorkerMetrics(mine.registry, tmp_path)) == {"legacy": 0, "new": 2}


def test_the_writer_snapshots_every_interval(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    worker_metrics = ProxyMetrics()
    shared = WorkerMetrics(worker_metrics.registry, tmp_path, interval=0.05)
    reader = WorkerMetrics(ProxyMetrics().registry, tmp_path, pid=other_process.pid)

    async def run() -> None:
        await shared.start()
        try:
            _answer(worker_metrics, "legacy", 3)
            deadline = time.monotonic() + 30
            while _served(reader)["legacy"] != 3:
                assert time.monotonic() < deadline, "no periodic snapshot showed the 3 answers"
                await asyncio.sleep(0.02)
        finally:
            await shared.stop()

    asyncio.run(run())


def test_a_graceful_stop_writes_a_last_snapshot(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    worker_metrics = ProxyMetrics()
    shared = WorkerMetrics(worker_metrics.registry, tmp_path, interval=3600)
    reader = WorkerMetrics(ProxyMetrics().registry, tmp_path, pid=other_process.pid)

    async def run() -> None:
        await shared.start()  # the first snapshot: nothing served yet
        assert _served(reader) == {"legacy": 0, "new": 0}
        _answer(worker_metrics, "legacy", 3)
        await shared.stop()

    asyncio.run(run())
    assert _served(reader) == {"legacy": 3, "new": 0}


def _exposition(shared: WorkerMetrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(shared).decode()
