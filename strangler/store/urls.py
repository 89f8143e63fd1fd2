"""Store URLs: checked when a config is read, shown without their password."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

__all__ = ["check_store_url", "safe_url"]


def check_store_url(value: str) -> None:
    """Raise ValueError (saying what is expected) unless ``value`` is the URL of a database
    the store can open: a known dialect, a host (but for SQLite), an existing folder for a
    SQLite file. A known dialect whose driver is not installed passes: opening the store
    says so, with the extra to install."""
    try:
        url = make_url(value)
        url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise ValueError(
            "a SQLAlchemy URL such as sqlite:///strangler.db or postgresql+psycopg://user@host/db"
        ) from None
    except ModuleNotFoundError:
        return
    if url.get_backend_name() != "sqlite" and not url.host:
        raise ValueError("a database URL with a host, e.g. postgresql+psycopg://u@host/db")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        folder = Path(url.database).parent
        if not folder.is_dir():
            raise ValueError(f"a SQLite file in an existing folder ({folder} is not one)")


def safe_url(url: str) -> str:
    """``url`` with its password hidden (``postgresql://app:***@db/x``)."""
    return make_url(url).render_as_string(hide_password=True)
