"""Record shadow results into the store without ever making the proxy wait.

The proxy's event loop only appends results to a bounded queue (a ``deque``: no lock, no
wake-up per result); a writer thread wakes every ``wake_interval`` (or once ``wake_batch``
results wait), takes them off, aggregates per route and minute (counts, latency histograms,
per-field statistics), keeps a capped, **redacted** sample of exchanges, and writes one
batch per ``flush_interval`` in one transaction. It takes the results in small slices and
lets the event loop's thread run between them, so a burst never holds the GIL for long. A
full queue, or a store that is down, never slows the proxy: what could not be recorded
is counted in :attr:`Recorder.lost` (and by the ``on_lost`` hook, a Prometheus counter
when wired by ``attach_shadow``). Aggregates that could not be written are kept and
retried (bounded); sampled exchanges are dropped.

::

    recorder = Recorder(store)
    recorder.start()
    recorder.record(result)      # from the event loop: never blocks
    recorder.flush()             # tests and shutdown: wait until written
    recorder.stop()
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from time import monotonic
from typing import Any

import orjson

from shadow.exchange import CapturedResponse, Headers
from shadow.histogram import LatencyHistogram
from shadow.noise import FieldCounts, RouteNoise
from shadow.runner import ShadowResult
from shadow.verdict import Difference
from strangler._errors import StoreError
from strangler.store import Store
from strangler.store.aggregates import PendingMinutes
from strangler.store.shadow import (
    SEVERITY_RANK,
    FieldTally,
    MinuteCounts,
    SampledExchange,
    noise_totals,
    write_shadow,
)
from strangler.store.traffic import field_counts

__all__ = ["Recorder", "default_instance", "load_noise"]

log = logging.getLogger("strangler.recorder")

_STOP = object()
SLICE = 16  # results absorbed between two chances for the event loop's thread to run
MAX_KEPT_KEYS = 20_000  # (route, outcome, field, hour) sample counters kept at most
MAX_DIFFERENCES = 50  # differences kept per sampled exchange
MAX_VALUE_BYTES = 2_000  # a difference value larger than this is cut to an excerpt
FIELD_LENGTH = 300


def default_instance() -> str:
    """An id for this process's rows: ``host-pid-random``."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(slots=True)
class _Batch:
    minutes: PendingMinutes[tuple[str, datetime], MinuteCounts] = field(
        default_factory=PendingMinutes
    )
    fields: PendingMinutes[tuple[str, datetime, str], FieldTally] = field(
        default_factory=PendingMinutes
    )
    samples: list[SampledExchange] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.minutes or self.fields or self.samples)


def _side_hist(minute: MinuteCounts, side: str) -> LatencyHistogram:
    return minute.legacy if side == "legacy" else minute.new


def _body_text(body: bytes | None, limit: int) -> str:
    if body is None:
        return "[not kept: over the buffer cap]"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        digest = hashlib.sha256(body).hexdigest()[:16]
        return f"[binary body: {len(body)} bytes, sha256:{digest}]"
    if len(text) > limit:
        return f"{text[:limit]}… [cut: {len(text) - limit} more characters]"
    return text


def _value(value: Any) -> Any:
    try:
        raw = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return repr(value)[:MAX_VALUE_BYTES]
    if len(raw) <= MAX_VALUE_BYTES:
        return orjson.loads(raw)
    return raw[:MAX_VALUE_BYTES].decode("utf-8", "replace") + "…"


def _diffs(items: tuple[Difference, ...], result: ShadowResult) -> list[dict[str, Any]]:
    out = []
    for d in items[:MAX_DIFFERENCES]:
        data = result.redactor.difference(d).to_json()
        data["legacy"], data["new"] = _value(data["legacy"]), _value(data["new"])
        out.append(data)
    return out


def _headers(headers: Headers) -> list[list[str]]:
    return [[k, v] for k, v in headers]


class Recorder:
    """Bounded queue + batching writer thread into the store (``store=None``: count only)."""

    def __init__(
        self,
        store: Store | None,
        *,
        instance: str | None = None,
        queue_size: int = 10_000,
        flush_interval: float = 1.0,
        wake_interval: float = 0.05,
        wake_batch: int = 64,
        batch_size: int = 500,
        mismatch_cap: int = 20,
        match_sample: float = 0.01,
        match_cap: int = 30,
        body_limit: int = 64 << 10,
        on_lost: Callable[[str, int], None] | None = None,
        on_drop: Callable[[str, str], None] | None = None,
        on_record: Callable[[ShadowResult], None] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.instance = instance or default_instance()
        # Appended by the event loop, taken by the writer: deque appends and pops are atomic,
        # so a result costs the loop no lock and no wake-up of the writer thread.
        self._queue: deque[Any] = deque()
        self._queue_size = queue_size
        self._wake = threading.Event()
        self._wake_interval = wake_interval
        self._wake_batch = wake_batch
        self._interval = flush_interval
        self._batch_size = batch_size
        self._mismatch_cap = mismatch_cap
        self._match_sample = match_sample
        self._match_cap = match_cap
        self._body_limit = body_limit
        self._on_lost = on_lost
        self._on_drop = on_drop
        self._on_record = on_record
        self._rand = rand
        self._kept: dict[tuple[str, str, str, datetime], int] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.lost: dict[str, int] = {}
        self.written_exchanges = 0
        self.store_failures = 0

    # -- the event loop's side: never blocks -------------------------------------------

    def record(self, result: ShadowResult) -> None:
        """Queue one result; when the queue is full it is counted as lost."""
        if self._on_record is not None:
            self._on_record(result)
        self._put(result)

    def drop(self, route: str, reason: str) -> None:
        """Count a shadow call that was not made (``timeout``, ``in_flight_limit``...)."""
        if self._on_drop is not None:
            self._on_drop(route, reason)
        self._put(("drop", route, reason, datetime.now(UTC)))

    def _put(self, item: Any) -> None:
        pending = len(self._queue)
        if pending >= self._queue_size:
            self._lose("queue_full", 1)
            return
        self._queue.append(item)
        if pending + 1 >= self._wake_batch and not self._wake.is_set():
            self._wake.set()

    @property
    def pending(self) -> int:
        """Results queued and not yet taken by the writer thread."""
        return len(self._queue)

    def _control(self, item: Any) -> None:
        self._queue.append(item)  # flush and stop are never refused (and not counted)
        self._wake.set()

    def _lose(self, reason: str, n: int) -> None:
        if n <= 0:
            return
        with self._lock:
            self.lost[reason] = self.lost.get(reason, 0) + n
        if self._on_lost is not None:
            self._on_lost(reason, n)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="strangler-recorder", daemon=True
            )
            self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (or failed); False on timeout."""
        if self._thread is None:
            return False
        done = threading.Event()
        self._control(("flush", done))
        return done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the writer thread."""
        if self._thread is None:
            return
        self._control(_STOP)
        self._thread.join(timeout)
        self._thread = None

    # -- the writer thread -------------------------------------------------------------------

    def _loop(self) -> None:
        batch = _Batch()
        next_flush = monotonic() + self._interval
        while True:
            self._wake.wait(max(min(next_flush - monotonic(), self._wake_interval), 0.0))
            self._wake.clear()
            if self._take(batch):
                self._write(batch)
                return
            if monotonic() >= next_flush or len(batch.samples) >= self._batch_size:
                self._write(batch)
                next_flush = monotonic() + self._interval

    def _take(self, batch: _Batch) -> bool:
        """Absorb what is queued now, in slices; True once the stop marker is reached."""
        taken = 0
        while self._queue:
            item = self._queue.popleft()
            if item is _STOP:
                return True
            taken += 1
            if taken % SLICE == 0:
                time.sleep(0)  # let the event loop's thread take the GIL
            if isinstance(item, ShadowResult):
                try:
                    self._absorb(item, batch)
                except Exception:  # a bad result must not stop the writer
                    log.exception("cannot record a shadow result for %s", item.route)
                    self._lose("error", 1)
            elif item[0] == "drop":
                _, route, reason, at = item
                minute = self._minute(batch, route, at)
                minute.requests += 1
                minute.dropped[reason] = minute.dropped.get(reason, 0) + 1
            elif item[0] == "flush":
                self._write(batch)
                item[1].set()
            if len(batch.samples) >= self._batch_size:
                self._write(batch)
        return False

    @staticmethod
    def _minute(batch: _Batch, route: str, at: datetime) -> MinuteCounts:
        return Recorder._minute_at(batch, route, at.replace(second=0, microsecond=0))

    @staticmethod
    def _minute_at(batch: _Batch, route: str, minute_at: datetime) -> MinuteCounts:
        key = (route, minute_at)
        found = batch.minutes.get(key)
        if found is None:
            found = batch.minutes[key] = MinuteCounts()
        return found

    def _absorb(self, result: ShadowResult, batch: _Batch) -> None:
        route, verdict = result.route, result.verdict
        minute_at = result.at.replace(second=0, microsecond=0)
        minute = self._minute_at(batch, route, minute_at)
        minute.requests += 1
        outcome = verdict.outcome
        if outcome == "not_compared":
            reason = verdict.reason or "unknown"
            minute.not_compared[reason] = minute.not_compared.get(reason, 0) + 1
            return
        minute.compared += 1
        if outcome == "match":
            minute.matched += 1
        elif outcome == "noise":
            minute.noise += 1
        else:
            severity = verdict.severity
            label = severity.label if severity else "value"
            minute.mismatch[label] = minute.mismatch.get(label, 0) + 1
            minute.signatures.add(verdict)
        _side_hist(minute, result.primary_side).add(result.primary.elapsed_ms)
        candidate = result.candidate
        if candidate is not None and candidate.error is None:
            _side_hist(minute, result.candidate_side).add(candidate.elapsed_ms)
        if verdict.differences or verdict.noise or result.second is not None:
            self._count_fields(result, batch, minute_at, minute)
        if self._keep(result, minute_at):
            batch.samples.append(self._sample(result))

    def _count_fields(
        self, result: ShadowResult, batch: _Batch, minute_at: datetime, minute: MinuteCounts
    ) -> None:
        def slot(name: str) -> FieldTally:
            key = (result.route, minute_at, name[:FIELD_LENGTH])
            found = batch.fields.get(key)
            if found is None:
                found = batch.fields[key] = FieldTally()
            return found

        verdict = result.verdict
        for name, d in {d.field or d.path: d for d in verdict.differences}.items():
            f = slot(name)
            f.mismatches += 1
            f.legacy_new += 1
            label = d.severity.label
            if SEVERITY_RANK[label] > SEVERITY_RANK[f.severity]:
                f.severity = label
        for name in {d.field or d.path for d in verdict.noise}:
            f = slot(name)
            f.noise += 1
            f.legacy_new += 1
        second = result.second
        if second is not None and second.outcome != "not_compared":
            minute.noise_samples += 1
            for name in {d.field or d.path for d in second.differences}:
                slot(name).legacy_legacy += 1
            minute.signatures.learn_kinds(second.differences)

    def _keep(self, result: ShadowResult, minute_at: datetime) -> bool:
        verdict = result.verdict
        if verdict.outcome == "mismatch":
            hour = minute_at.replace(minute=0)
            key = (result.route, "mismatch", verdict.fields[0] if verdict.fields else "", hour)
            cap = self._mismatch_cap
        else:
            if self._rand() >= self._match_sample:  # most matches: nothing more to do
                return False
            key = (result.route, verdict.outcome, "", minute_at.replace(minute=0))
            cap = self._match_cap
        kept = self._kept.get(key, 0)
        if kept >= cap:
            return False
        if len(self._kept) > MAX_KEPT_KEYS:
            self._kept.clear()
        self._kept[key] = kept + 1
        return True

    def _sample(self, result: ShadowResult) -> SampledExchange:
        red = result.redactor
        request = red.request(result.request)
        primary = red.response(result.primary)
        candidate: CapturedResponse | None = (
            red.response(result.candidate) if result.candidate is not None else None
        )
        verdict = result.verdict
        severity = verdict.severity
        limit = self._body_limit
        return SampledExchange(
            route=result.route,
            at=result.at,
            instance=self.instance,
            outcome=verdict.outcome,
            severity=severity.label if severity else "",
            field=(verdict.fields[0] if verdict.fields else "")[:FIELD_LENGTH],
            reason=verdict.reason[:300],
            method=request.method,
            path=request.path,
            query=request.query,
            request_headers=_headers(request.headers),
            request_body=_body_text(request.body, limit),
            primary_side=result.primary_side,
            candidate_side=result.candidate_side,
            primary_status=primary.status,
            primary_headers=_headers(primary.headers),
            primary_body=_body_text(primary.body, limit),
            primary_ms=primary.elapsed_ms,
            candidate_status=candidate.status if candidate else None,
            candidate_headers=_headers(candidate.headers) if candidate else [],
            candidate_body=_body_text(candidate.body, limit) if candidate else "",
            candidate_ms=candidate.elapsed_ms if candidate else None,
            candidate_error=(candidate.error or "") if candidate else "",
            differences=_diffs(verdict.differences, result),
            noise=_diffs(verdict.noise, result),
        )

    def _write(self, batch: _Batch) -> None:
        if not batch:
            return
        if self.store is None:
            batch.samples.clear()
            batch.minutes.clear()
            batch.fields.clear()
            return
        try:
            write_shadow(self.store, self.instance, batch.minutes, batch.fields, batch.samples)
        except (StoreError, OSError) as exc:
            self.store_failures += 1
            if self.store_failures == 1 or self.store_failures % 60 == 0:
                log.warning("shadow results not recorded (store unavailable): %s", exc)
            self._lose("store_unavailable", len(batch.samples))
            batch.samples.clear()
            self._lose("store_unavailable", sum(m.requests for m in batch.minutes.trim()))
            batch.fields.trim()
            return
        self.written_exchanges += len(batch.samples)
        batch.samples.clear()
        batch.minutes.clear()
        batch.fields.clear()


def load_noise(store: Store, since: timedelta = timedelta(days=1)) -> dict[str, RouteNoise]:
    """Noise statistics per route learned by every process in the window (for a new runner).

    Raises :class:`~strangler.StoreError` when the store cannot be read.
    """
    start = datetime.now(UTC) - since
    out = {
        route: RouteNoise(compared=compared, samples=samples)
        for route, (compared, samples) in noise_totals(store, start).items()
    }
    for route, fields in field_counts(store, start).items():
        stats = out.setdefault(route, RouteNoise())
        for name, (legacy_legacy, legacy_new) in fields.items():
            stats.fields[name] = FieldCounts(legacy_legacy, legacy_new)
    return out
