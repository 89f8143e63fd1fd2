"""Bring the store's schema to a revision with Alembic (``strangler db upgrade``).

The Alembic scripts ship as files of the ``migrations`` distribution folder
(``migrations/store_schema``); they are located as files, never imported here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from strangler._errors import StoreError

__all__ = ["current_revision", "downgrade", "head_revision", "script_location", "upgrade"]


def script_location() -> Path:
    spec = importlib.util.find_spec("migrations")
    if spec is None or not spec.submodule_search_locations:
        raise StoreError("-", "the 'migrations' folder with the store's Alembic scripts is missing")
    return Path(next(iter(spec.submodule_search_locations))) / "store_schema"


def _alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(script_location()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable store URL>"


def _reason(exc: Exception) -> str:
    """The driver's message, first line only (psycopg adds multi-line context)."""
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()
    return f"{orig.__class__.__name__}: {first[0] if first else ''}"


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the store at ``url`` to ``revision`` (default: the newest)."""
    try:
        command.upgrade(_alembic_config(url), revision)
    except SQLAlchemyError as exc:
        raise StoreError(_safe(url), f"upgrade to {revision} failed: {_reason(exc)}") from exc


def downgrade(url: str, revision: str) -> None:
    """Downgrade the store at ``url`` to ``revision`` (``base`` removes every table)."""
    try:
        command.downgrade(_alembic_config(url), revision)
    except SQLAlchemyError as exc:
        raise StoreError(_safe(url), f"downgrade to {revision} failed: {_reason(exc)}") from exc


def head_revision() -> str:
    heads = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_heads()
    return heads[0] if heads else "base"


def current_revision(url: str) -> str | None:
    """The revision the store at ``url`` is at, or None when it has no schema yet."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(_safe(url), f"cannot read the schema revision: {_reason(exc)}") from exc
    finally:
        engine.dispose()
