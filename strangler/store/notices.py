"""Flip notices: on PostgreSQL every flip NOTIFYs a channel, and proxies LISTEN to it.

:meth:`Store.flip <strangler.store.Store.flip>` sends the notice in the flip's own
transaction; :func:`flip_notices` is the listening side, so a proxy serves a flip well before
its next poll of the state version (polling stays as the safety net, and is all other
engines get)::

    >>> async for _ in flip_notices(store):      # doctest: +SKIP
    ...     wake.set()
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strangler._errors import StoreError
from strangler.store.repository import NOTIFY_CHANNEL, Store

__all__ = ["NOTIFY_CHANNEL", "flip_notices", "listens"]


def listens(store: Store) -> bool:
    """Whether the store announces flips as they happen (PostgreSQL), not only by polling."""
    return store.engine.dialect.name == "postgresql"


async def flip_notices(store: Store) -> AsyncIterator[None]:
    """Yields once when listening starts (a flip may have been missed before) and once per
    flip any process records; raises StoreError when the connection fails or is lost."""
    import psycopg  # only PostgreSQL stores get here, and psycopg is their driver

    conninfo = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        async with conn:
            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            yield
            async for _ in conn.notifies():
                yield
    except (psycopg.Error, OSError) as exc:
        raise StoreError(store.safe_url, str(exc) or exc.__class__.__name__) from exc
