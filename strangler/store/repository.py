"""The store's repository: live route states, the flip audit log, the state version.

All calls are synchronous and short; the proxy calls them from a worker thread, never on
its hot path.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, literal, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from strangler._errors import StoreError
from strangler.records import Evidence, Flip, RouteState
from strangler.store import schema
from strangler.store.models import EvidenceRow, FlipRow, RouteStateRow, StateVersionRow, utcnow

__all__ = ["Evidence", "Flip", "RouteState", "Store", "default_actor"]


def default_actor() -> str:
    """``user@host`` of whoever runs the command (``STRANGLER_ACTOR`` overrides it)."""
    env = os.environ.get("STRANGLER_ACTOR")
    if env:
        return env
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for the store with the settings every process needs."""
    try:
        engine = create_engine(url, pool_pre_ping=True, future=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(url, f"cannot open: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Store:
    """The store at a SQLAlchemy URL.

    >>> store = Store("sqlite:///strangler.db")        # doctest: +SKIP
    >>> store.ensure_schema()                          # doctest: +SKIP
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction, committed on success; errors become StoreError."""
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(self.safe_url, f"{exc.__class__.__name__}: {exc}") from exc

    def ensure_schema(self) -> None:
        """Upgrade the schema to the newest revision when it is behind."""
        if schema.current_revision(self.url) != schema.head_revision():
            schema.upgrade(self.url)

    # -- live state -------------------------------------------------------------------

    def version(self) -> int:
        with self.session() as s:
            return int(
                s.scalar(select(StateVersionRow.version).where(StateVersionRow.id == 1)) or 0
            )

    def live_states(self) -> dict[str, RouteState]:
        with self.session() as s:
            rows = s.scalars(select(RouteStateRow)).all()
            return {r.route: _state(r) for r in rows}

    def flip(
        self,
        route: str,
        *,
        initial_mode: str,
        initial_percent: Decimal | None,
        to_mode: str,
        to_percent: Decimal | None,
        reason: str,
        actor: str | None = None,
        forced: bool = False,
        automatic: bool = False,
    ) -> Flip:
        """Record a flip of ``route`` and make it the live state, atomically.

        ``initial_*`` is the route's mode in the config, used as "from" for its first flip.
        An automatic flip (rollback) holds the route until a person flips it.
        """
        with self.session() as s:
            row = s.get(RouteStateRow, route, with_for_update=True)
            from_mode = row.mode if row else initial_mode
            from_percent = row.percent if row else initial_percent
            flip = FlipRow(
                route=route,
                at=utcnow(),
                actor=actor or default_actor(),
                from_mode=from_mode,
                to_mode=to_mode,
                from_percent=from_percent,
                to_percent=to_percent,
                reason=reason,
                forced=forced,
                automatic=automatic,
            )
            s.add(flip)
            s.flush()
            if row is None:
                row = RouteStateRow(route=route)
                s.add(row)
            row.mode = to_mode
            row.percent = to_percent
            row.held = automatic
            row.updated_at = flip.at
            row.last_flip_id = flip.id
            s.execute(
                update(StateVersionRow)
                .where(StateVersionRow.id == 1)
                .values(version=StateVersionRow.version + 1)
            )
            if self.engine.dialect.name == "postgresql":
                s.execute(select(_pg_notify()))
            return _flip(flip)

    def history(self, route: str | None = None, limit: int = 100) -> list[Flip]:
        """The audit log, newest first."""
        q = select(FlipRow).order_by(FlipRow.id.desc()).limit(limit)
        if route is not None:
            q = q.where(FlipRow.route == route)
        with self.session() as s:
            return [_flip(r) for r in s.scalars(q).all()]

    def flips_by_id(self, ids: Iterable[int]) -> dict[int, Flip]:
        """The audit-log entries with these ids (e.g. each live state's ``last_flip_id``)."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        with self.session() as s:
            rows = s.scalars(select(FlipRow).where(FlipRow.id.in_(wanted))).all()
            return {r.id: _flip(r) for r in rows}

    # -- evidence ---------------------------------------------------------------------

    def record_evidence(
        self,
        kind: str,
        *,
        route: str | None,
        passed: bool,
        summary: dict[str, Any],
        subject: str = "",
    ) -> Evidence:
        """Store one result (parity run, load gate, data verification) for readiness."""
        with self.session() as s:
            row = EvidenceRow(
                kind=kind,
                route=route,
                subject=subject,
                at=utcnow(),
                passed=passed,
                summary=summary,
            )
            s.add(row)
            s.flush()
            return _evidence(row)

    def latest_evidence(self, kind: str, route: str | None) -> Evidence | None:
        """The newest result of ``kind`` for ``route``, or None."""
        q = select(EvidenceRow).where(EvidenceRow.kind == kind)
        q = q.where(EvidenceRow.route.is_(None) if route is None else EvidenceRow.route == route)
        with self.session() as s:
            row = s.scalars(q.order_by(EvidenceRow.id.desc()).limit(1)).first()
            return _evidence(row) if row else None


NOTIFY_CHANNEL = "strangler_flips"


def _pg_notify() -> Any:
    return func.pg_notify(literal(NOTIFY_CHANNEL), literal("flip"))


def _state(r: RouteStateRow) -> RouteState:
    return RouteState(r.route, r.mode, r.percent, bool(r.held), r.updated_at, r.last_flip_id)


def _flip(r: FlipRow) -> Flip:
    return Flip(
        id=r.id,
        route=r.route,
        at=r.at,
        actor=r.actor,
        from_mode=r.from_mode,
        to_mode=r.to_mode,
        from_percent=r.from_percent,
        to_percent=r.to_percent,
        reason=r.reason,
        forced=bool(r.forced),
        automatic=bool(r.automatic),
    )


def _evidence(r: EvidenceRow) -> Evidence:
    return Evidence(r.id, r.kind, r.route, r.subject, r.at, bool(r.passed), dict(r.summary or {}))
