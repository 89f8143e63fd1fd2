"""Leadership among workers: one leads, another takes over when it goes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from strangler.workers import LOCK_NAME, Leadership


def test_one_leads_and_another_takes_over_when_it_stops(tmp_path: Path) -> None:
    events: list[str] = []

    def hooks(name: str) -> dict[str, list[Callable[[], Awaitable[None]]]]:
        async def elected() -> None:
            events.append(f"{name} leads")

        async def resign() -> None:
            events.append(f"{name} resigns")

        return {"on_elected": [elected], "on_resign": [resign]}

    async def run() -> None:
        first = Leadership(tmp_path, retry=0.05, **hooks("first"))
        second = Leadership(tmp_path, retry=0.05, **hooks("second"))
        await first.start()
        await second.start()
        assert (first.is_leader, second.is_leader) == (True, False)
        assert events == ["first leads"]
        await first.stop()
        deadline = time.monotonic() + 30
        while not second.is_leader:
            assert time.monotonic() < deadline, "nobody took over"
            await asyncio.sleep(0.02)
        await second.stop()

    asyncio.run(run())
    assert events == ["first leads", "first resigns", "second leads", "second resigns"]
    assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())


def test_a_killed_leaders_lock_is_free_at_once(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(tmp_path / LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"locked"

        async def run() -> bool:
            follower = Leadership(tmp_path, retry=0.05)
            await follower.start()
            assert not follower.is_leader
            holder.kill()  # kill -9: no chance to clean up
            deadline = time.monotonic() + 30
            while not follower.is_leader:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
            leads = follower.is_leader
            await follower.stop()
            return leads

        assert asyncio.run(run()), "the lock of a killed leader was never taken over"
    finally:
        holder.kill()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
