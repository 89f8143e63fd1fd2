"""Store table of served traffic: per route, minute, proxy process and side.

Written by :class:`strangler.traffic_recorder.TrafficRecorder` from the proxy's own counters
(never per request); read by readiness (error rates and latency of each side) and by
progress (the share of answers served by new, and its trend).

- ``served``: answers this side gave to clients (``requests`` adds the attempts that
  failed and were answered by the other side or by the proxy)
- ``errors``: 5xx answers plus failed attempts
- ``latency``: the answers' latency histogram, in the one format every table uses: counts
  per bucket of :data:`shadow.histogram.BOUNDS_MS` (milliseconds, the last one above them
  all; not cumulative, so rows add up). The proxy counts over Prometheus' coarser buckets;
  the recorder spreads them (:meth:`~shadow.histogram.LatencyHistogram.spread`). Revision
  0007 converted the rows stored over the Prometheus buckets before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from strangler.store.models import Base, UTCDateTime

__all__ = ["TrafficMinuteRow"]


class TrafficMinuteRow(Base):
    """One side's traffic on one route for one minute, from one proxy process."""

    __tablename__ = "traffic_minutes"
    __table_args__ = (
        UniqueConstraint("route", "minute", "instance", "side", name="uq_traffic_minutes_key"),
        Index("ix_traffic_minutes_minute", "minute"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    route: Mapped[str] = mapped_column(String(300))
    minute: Mapped[datetime] = mapped_column(UTCDateTime)
    instance: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(16))
    served: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    latency: Mapped[list[Any]] = mapped_column(JSON, default=list)
