"""Replay corpus requests on the backends, concurrently and bounded.

A :class:`ReplayPool` owns a private event loop in a background thread and the strangler
backends (:func:`strangler.backends.build_backend`: the proxy's own pooled HTTP client, or
an in-process ASGI/WSGI app). ``submit`` is called from pytest's (synchronous) test loop and
returns a :class:`concurrent.futures.Future`; at most ``concurrency`` exchanges are in flight,
and within one exchange every side is called at the same time::

    pool = ReplayPool({"legacy": legacy, "new": new}, concurrency=8)
    future = pool.submit(ReplayPlan(request, sides=("legacy", "new"), noise=True))
    replayed = future.result()          # Replayed(legacy=..., new=..., second_legacy=...)
    pool.close()

A backend that cannot be reached at all is a :class:`ReplayFailed` (the run proves nothing
about that exchange); any other upstream failure (timeout, reset) becomes a response with
``error`` set, which the comparison reports as a status-class difference.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from shadow.exchange import CapturedRequest, CapturedResponse
from strangler import UpstreamConnectError, UpstreamError
from strangler.backends import Backend, UpstreamRequest
from strangler.config import Timeouts
from strangler.proxy import HOP_BY_HOP

__all__ = ["REPLAY_MARKER", "ReplayFailed", "ReplayPlan", "ReplayPool", "Replayed"]

T = TypeVar("T")

#: Header added to every replayed request so a backend can tell parity traffic apart.
REPLAY_MARKER = ("x-strangler-parity", "1")

# Never replayed as recorded: the client sets them for the connection it opens (the
# proxy's hop-by-hop set, plus the two a client computes itself).
CONNECTION_HEADERS = frozenset(h.decode() for h in HOP_BY_HOP) | {"host", "content-length"}


class ReplayFailed(Exception):
    """A side could not be reached at all (connection refused): nothing to compare."""

    def __init__(self, side: str, detail: str) -> None:
        self.side = side
        self.detail = detail
        super().__init__(f"{side}: {detail}")


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """What to do with one corpus request.

    ``sides`` are the two backends to call (``("legacy", "new")``, or
    ``("new_sandbox",)`` when the legacy answer is the recorded one); ``noise`` also calls
    the first side a second time (legacy vs legacy shows what is nondeterministic).
    """

    request: CapturedRequest
    sides: tuple[str, ...] = ("legacy", "new")
    noise: bool = False
    timeouts: Timeouts | None = None


@dataclass(frozen=True, slots=True)
class Replayed:
    """The answers one replay got, by side (``second`` is the first side's second answer)."""

    answers: Mapping[str, CapturedResponse]
    second: CapturedResponse | None = None


def _upstream_request(request: CapturedRequest) -> UpstreamRequest:
    target = request.path + (f"?{request.query}" if request.query else "")
    headers = [
        (name.encode("latin-1"), value.encode("latin-1", "replace"))
        for name, value in request.headers
        if name not in CONNECTION_HEADERS
    ]
    headers.append((REPLAY_MARKER[0].encode(), REPLAY_MARKER[1].encode()))
    return UpstreamRequest(request.method, target, headers, request.body or b"")


class ReplayPool:
    """Replays on a private event loop thread; at most ``concurrency`` exchanges at once."""

    def __init__(
        self,
        backends: Mapping[str, Backend],
        *,
        concurrency: int = 8,
        timeouts: Mapping[str, Timeouts] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.backends = dict(backends)
        self.concurrency = concurrency
        self._timeouts = dict(timeouts or {})
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="strangler-parity-replay", daemon=True
        )
        self._thread.start()
        self._semaphore = self._call(self._make_semaphore())
        self._closed = False

    async def _make_semaphore(self) -> asyncio.Semaphore:
        return asyncio.Semaphore(self.concurrency)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def submit(self, plan: ReplayPlan) -> concurrent.futures.Future[Replayed]:
        """Start replaying ``plan`` (returns at once)."""
        if self._closed:
            raise RuntimeError("the replay pool is closed")
        return asyncio.run_coroutine_threadsafe(self._replay(plan), self._loop)

    async def _replay(self, plan: ReplayPlan) -> Replayed:
        async with self._semaphore:
            calls = [self._send(side, plan) for side in plan.sides]
            if plan.noise:
                calls.append(self._send(plan.sides[0], plan))
            results = await asyncio.gather(*calls)
        answers = dict(zip(plan.sides, results, strict=False))
        second = results[-1] if plan.noise else None
        return Replayed(answers, second)

    async def _send(self, side: str, plan: ReplayPlan) -> CapturedResponse:
        backend = self.backends[side]
        timeouts = plan.timeouts or self._timeouts.get(side) or Timeouts()
        route = plan.request.route or "*"
        started = time.perf_counter()
        try:
            resp = await backend.send(
                _upstream_request(plan.request), timeouts=timeouts, route=route
            )
            body = await resp.read()
        except UpstreamConnectError as exc:
            raise ReplayFailed(side, exc.detail) from exc
        except UpstreamError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            return CapturedResponse(exc.status_code, (), b"", elapsed, error=exc.kind)
        elapsed = (time.perf_counter() - started) * 1000
        headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in resp.headers)
        return CapturedResponse(resp.status, headers, body, elapsed)

    def close(self) -> None:
        """Cancel what is still running, close the backends and stop the loop thread."""
        if self._closed:
            return
        self._closed = True

        async def shutdown() -> None:
            current = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for backend in self.backends.values():
                await backend.aclose()

        try:
            self._call(shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()
