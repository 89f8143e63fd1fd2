"""Guard a "contract" migration of your own schema behind a clean data verification.

Call it at the top of the Alembic revision that drops legacy columns or tables::

    from migrations.contract import require_verified

    def upgrade() -> None:
        require_verified("orders", "postgresql+psycopg://strangler@db/strangler")
        op.drop_table("ORDERS")

It raises :class:`~strangler.MigrationError` (and Alembic stops, in its transaction) unless
the newest verification of the mapping is clean and covered every row (not a ``--sample``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from strangler import MigrationError, StoreError
from strangler.store import Store

from .mapping import brief_error
from .records import JobLog, VerificationRecord

__all__ = ["require_verified"]


def require_verified(
    mapping: str, store_url: str, *, max_age: timedelta | None = None
) -> VerificationRecord:
    """The newest verification of ``mapping``, if clean; otherwise raise MigrationError.

    ``max_age``: also refuse a clean verdict older than this.
    """
    store = Store(store_url)
    try:
        latest = JobLog(store).latest_verification(mapping)
    except StoreError as exc:
        raise MigrationError(
            mapping, f"cannot read verifications from the store: {brief_error(exc)}"
        ) from exc
    finally:
        store.close()
    todo = f"run 'strangler verify -c FILE {mapping}' (with --repair if it finds differences)"
    if latest is None:
        raise MigrationError(mapping, f"contract refused: never verified; {todo}")
    if latest.details.get("sample"):
        raise MigrationError(
            mapping,
            f"contract refused: the latest verification ({latest.at:%Y-%m-%d %H:%M} UTC) "
            f"checked a sample only; {todo}",
        )
    if not latest.clean:
        raise MigrationError(
            mapping,
            f"contract refused: the latest verification ({latest.at:%Y-%m-%d %H:%M} UTC) found "
            f"{latest.missing} missing, {latest.extra} extra and {latest.different} different "
            f"rows; {todo}",
        )
    if max_age is not None and datetime.now(UTC) - latest.at > max_age:
        raise MigrationError(
            mapping,
            f"contract refused: the latest clean verification is from "
            f"{latest.at:%Y-%m-%d %H:%M} UTC, older than {max_age}; {todo}",
        )
    return latest
