"""Which worker of ``strangler serve --workers N`` leads: the one holding the run's lock.

The leader serves the admin side (the dashboard and the summed ``/metrics``) and runs the
rollback monitor; the other workers only proxy. Leadership is an exclusive ``flock`` on
``<run dir>/leader.lock``: the kernel releases it when its holder exits, however it exits
(even ``kill -9``), and the other workers try to take it every ``retry`` seconds, so a
dead leader is replaced within a few seconds, without any clock or heartbeat::

    >>> lead = Leadership(run_dir, on_elected=[admin.start, monitor.start],     # doctest: +SKIP
    ...                   on_resign=[monitor.stop, admin.stop])
    >>> proxy.on_startup.append(lead.start)                                     # doctest: +SKIP
    >>> proxy.on_shutdown.insert(0, lead.stop)                                  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from strangler._tasks import cancel

__all__ = ["LOCK_NAME", "Leadership"]

log = logging.getLogger("strangler.workers")

LOCK_NAME = "leader.lock"
"""The file in the run directory whose lock makes its holder the leader."""

Hook = Callable[[], Awaitable[None]]


class Leadership:
    """Take the lead when the lock is free; run ``on_elected`` then, ``on_resign`` at stop."""

    def __init__(
        self,
        directory: Path,
        *,
        on_elected: Sequence[Hook] = (),
        on_resign: Sequence[Hook] = (),
        retry: float = 2.0,
    ) -> None:
        self.path = directory / LOCK_NAME
        self.on_elected = list(on_elected)
        self.on_resign = list(on_resign)
        self.retry = retry
        self._fd: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def is_leader(self) -> bool:
        return self._fd is not None

    def _try_lock(self) -> bool:
        """Take the lock if no other process holds it (never waits)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        # for a person looking at the directory; nothing reads it
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    async def _elected(self) -> None:
        log.info("worker %s leads: admin side and rollback monitor", os.getpid())
        for hook in self.on_elected:
            try:
                await hook()
            except Exception:  # the lead stays here: a later hook may still work
                log.exception("leader start-up hook %r failed", hook)

    async def start(self) -> None:
        """Lead now if the lock is free; otherwise follow and try again every ``retry`` s."""
        if self._task is not None or self.is_leader or self._stopped:
            return
        if self._try_lock():
            await self._elected()
            return
        log.info("worker %s follows (another worker leads)", os.getpid())
        self._task = asyncio.create_task(self._campaign(), name="strangler-leadership")

    async def _campaign(self) -> None:
        while True:
            await asyncio.sleep(self.retry)
            try:
                if self._try_lock():
                    break
            except OSError as exc:  # the run directory is gone: the whole server is stopping
                log.debug("leader lock %s not tried: %s", self.path, exc)
        await self._elected()

    async def stop(self) -> None:
        """Stop trying; a leader runs ``on_resign`` and releases the lock."""
        self._stopped = True
        task, self._task = self._task, None
        await cancel(task)
        fd = self._fd
        if fd is None:
            return
        for hook in self.on_resign:
            try:
                await hook()
            except Exception:
                log.exception("leader shutdown hook %r failed", hook)
        self._fd = None
        os.close(fd)  # closing the last descriptor releases the lock
