"""Store table of the endpoints the proxy discovered in live traffic: per template, minute
and proxy process.

Written by :class:`strangler.discovery_recorder.DiscoveryRecorder` from the requests the
catch-all answered (never per request, never a raw path: ``template`` is an inferred
path template such as ``/orders/{order_id}``, or ``*`` for requests the process's bounded
template tree could not place); read by the legacy surface.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from strangler.store.models import Base, UTCDateTime

__all__ = ["DiscoveredMinuteRow"]


class DiscoveredMinuteRow(Base):
    """Requests one method and template got through the catch-all in one minute, from one
    proxy process (scaled up when the process sampled)."""

    __tablename__ = "discovered_minutes"
    __table_args__ = (
        UniqueConstraint(
            "method", "template", "minute", "instance", name="uq_discovered_minutes_key"
        ),
        Index("ix_discovered_minutes_minute", "minute"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    method: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(300))
    minute: Mapped[datetime] = mapped_column(UTCDateTime)
    instance: Mapped[str] = mapped_column(String(64))
    requests: Mapped[int] = mapped_column(Integer, default=0)
