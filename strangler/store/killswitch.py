"""Store table of the global kill switch (read and written by :mod:`strangler.rollout`).

One row (``id = 1``) once the switch was first used: whether it is engaged, since when, by
whom and why. While engaged, no flip may send more traffic to new; every engagement and
release is also in the flip audit log through the per-route flips it causes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from strangler.store.models import Base, UTCDateTime, utcnow

__all__ = ["KillSwitchRow"]


class KillSwitchRow(Base):
    """The kill switch's current position (a single row)."""

    __tablename__ = "kill_switch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    engaged: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
