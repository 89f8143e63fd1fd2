"""Bring the store's schema to a revision with Alembic (``strangler db upgrade``).

The Alembic scripts ship with the store (``strangler/store/alembic``); they are located as
files next to this module, never imported here.

Every command that opens the store checks its revision against the newest script's, so
that check reads the ``alembic_version`` table and the scripts' ``revision`` lines itself:
importing Alembic (and having it load every script) would add most of a second to each
``strangler flip``. Alembic is imported only to change the schema.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import column, create_engine, inspect, make_url, select, table
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from strangler._errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

__all__ = ["current_revision", "downgrade", "head_revision", "script_location", "upgrade"]

VERSION_TABLE = "alembic_version"
"""Where Alembic records the store's revision (its default name)."""


def script_location() -> Path:
    """The store's own Alembic scripts (``env.py``, ``versions/``), beside this module."""
    return Path(__file__).resolve().parent / "alembic"


def _alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

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
    from alembic import command

    try:
        command.upgrade(_alembic_config(url), revision)
    except SQLAlchemyError as exc:
        raise StoreError(_safe(url), f"upgrade to {revision} failed: {_reason(exc)}") from exc


def downgrade(url: str, revision: str) -> None:
    """Downgrade the store at ``url`` to ``revision`` (``base`` removes every table)."""
    from alembic import command

    try:
        command.downgrade(_alembic_config(url), revision)
    except SQLAlchemyError as exc:
        raise StoreError(_safe(url), f"downgrade to {revision} failed: {_reason(exc)}") from exc


def _declared(script: Path) -> tuple[str, tuple[str, ...]] | None:
    """A script's ``revision`` and ``down_revision`` literals; None if it has no plain ones."""
    found: dict[str, object] = {}
    for node in ast.parse(script.read_bytes(), str(script)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                return None
    revision, down = found.get("revision"), found.get("down_revision")
    if not isinstance(revision, str) or "down_revision" not in found:
        return None
    downs = (down,) if isinstance(down, str) else down if down is not None else ()
    if not isinstance(downs, tuple | list) or not all(isinstance(d, str) for d in downs):
        return None
    return revision, tuple(downs)


def head_revision() -> str:
    """The newest revision of the store's schema scripts ('base' when there is none).

    The heads are the revisions no other script revises. Scripts this reading cannot follow
    (a revision computed at import, several heads) are left to Alembic's own reading.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in sorted((script_location() / "versions").glob("*.py")):
        if script.name == "__init__.py":
            continue
        declared = _declared(script)
        if declared is None:
            return _alembic_head()
        revisions.add(declared[0])
        revised.update(declared[1])
    heads = revisions - revised
    if len(heads) > 1:
        return _alembic_head()
    return heads.pop() if heads else "base"


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_heads()
    return heads[0] if heads else "base"


def current_revision(url: str) -> str | None:
    """The revision the store at ``url`` is at, or None when it has no schema yet."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(VERSION_TABLE):
                return None
            version = table(VERSION_TABLE, column("version_num"))
            found = list(conn.execute(select(version.c.version_num)).scalars())
    except SQLAlchemyError as exc:
        raise StoreError(_safe(url), f"cannot read the schema revision: {_reason(exc)}") from exc
    finally:
        engine.dispose()
    if len(found) > 1:
        raise StoreError(
            _safe(url),
            f"the {VERSION_TABLE} table holds several revisions ({', '.join(sorted(found))}); "
            "merge the branches with Alembic before using this store",
        )
    return str(found[0]) if found else None
