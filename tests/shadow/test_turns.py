"""shadow.turns.later: shadow work in small slices, ready sockets served in between."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from shadow import turns


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def _after_all() -> None:
    """Until every piece queued so far has run (pieces run in order)."""
    done = asyncio.Event()
    turns.later(done.set)
    await done.wait()


def test_pieces_run_in_order_and_a_ready_socket_is_served_between_them() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        events: list[str] = []
        a, b = socket.socketpair()
        a.setblocking(False)

        def readable() -> None:
            a.recv(16)
            events.append("client")
            loop.remove_reader(a)

        loop.add_reader(a, readable)
        for n in range(4):  # each piece is over the budget alone: one per turn
            turns.later(lambda n=n: (_busy(2 * turns.BUDGET), events.append(f"piece {n}")))
        b.send(b"x")  # a client's bytes, ready before the first piece runs
        await _after_all()
        a.close()
        b.close()
        return events

    events = asyncio.run(main())
    assert [e for e in events if e != "client"] == [f"piece {n}" for n in range(4)]
    assert events.index("client") < 3  # not left until all the shadow work was done


def test_a_failing_piece_is_logged_and_the_next_ones_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> list[int]:
        done: list[int] = []

        def fail() -> None:
            raise RuntimeError("boom")

        turns.later(fail)
        turns.later(done.append, 1)
        turns.later(done.append, 2)
        await _after_all()
        return done

    with caplog.at_level(logging.ERROR, logger="strangler.shadow"):
        assert asyncio.run(main()) == [1, 2]
    assert "shadow work failed" in caplog.text


def test_over_the_queue_bound_a_piece_runs_at_once_and_none_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(turns, "MAX_QUEUED", 3)

    async def main() -> tuple[list[int], list[int]]:
        done: list[int] = []
        for n in range(5):
            turns.later(done.append, n)
        at_once = list(done)  # what ran inside `later` itself
        await asyncio.sleep(0.05)  # the queued three, one turn each at most
        return at_once, done

    at_once, done = asyncio.run(main())
    assert at_once == [3, 4]  # the queue was full: no priority, but no loss
    assert sorted(done) == [0, 1, 2, 3, 4]
