"""The global kill switch's position in the store: its table and its two queries.

Engaging and releasing it (and the flips that go with it) is :mod:`strangler.control`'s job.
One row (``id = 1``) once the switch was first used: whether it is engaged, since when, by
whom and why. While engaged, no flip may send more traffic to new; every engagement and
release is also in the flip audit log through the per-route flips it causes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from strangler.records import KillSwitchState
from strangler.store.models import Base, UTCDateTime, utcnow
from strangler.store.repository import Store

__all__ = ["KillSwitchRow", "kill_switch_state", "set_kill_switch"]


class KillSwitchRow(Base):
    """The kill switch's current position (a single row)."""

    __tablename__ = "kill_switch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    engaged: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")


def kill_switch_state(store: Store) -> KillSwitchState:
    """Where the switch stands (off when it was never used)."""
    with store.session() as s:
        row = s.get(KillSwitchRow, 1)
        if row is None:
            return KillSwitchState(False)
        return KillSwitchState(bool(row.engaged), row.at, row.actor, row.reason)


def set_kill_switch(store: Store, *, engaged: bool, reason: str, actor: str) -> KillSwitchState:
    """Put the switch in a position, now, recording who and why."""
    with store.session() as s:
        row = s.get(KillSwitchRow, 1, with_for_update=True)
        if row is None:
            row = KillSwitchRow(id=1)
            s.add(row)
        row.engaged = engaged
        row.at = utcnow()
        row.actor = actor
        row.reason = reason
        return KillSwitchState(engaged, row.at, actor, reason)
