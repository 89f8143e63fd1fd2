"""A mapping: legacy rows → transform → rows of a table in the new database.

Declared in Python, named in the config::

    # shop_mappings.py
    ORDERS = Mapping(
        name="orders",
        source=legacy_orders,                 # a Table, or a select() over legacy tables
        key="ORD_ID",                         # or ("ORD_NO", "LINE_NO"); never changes
        transform=lambda r: [{"id": r["ORD_ID"], "amount": Decimal(r["AMT"]) / 100}],
        target=orders,                        # a Table of the new schema
        target_key="id",                      # the target columns holding the legacy key
        updated_at="UPD_TS",                  # optional: catch-up watermark column
        routes=("GET /orders/{id}",),         # optional: verdicts feed these routes' readiness
    )

    # strangler.yaml
    databases: {legacy: "mysql+pymysql://...", new: "postgresql+psycopg://..."}
    mappings: {orders: "shop_mappings:ORDERS"}

The transform is a plain function of one legacy row (a read-only mapping of column name to
value) returning zero or more target rows (dicts of target column name to value).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    FromClause,
    Select,
    Table,
    create_engine,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from strangler import MigrationError
from strangler.config import Config

__all__ = ["Databases", "Mapping", "Transform", "brief_error", "load_mapping", "open_databases"]

Transform = Callable[[AbcMapping[str, Any]], Iterable[dict[str, Any]]]


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


_PREFIX = "__new_"


def _projection(names: tuple[str, ...]) -> Transform:
    """The transform of a ``columns=`` mapping: the database computed the new row already."""
    labels = [(n, f"{_PREFIX}{n}") for n in names]

    def project(row: AbcMapping[str, Any]) -> list[dict[str, Any]]:
        return [{n: row[label] for n, label in labels}]

    return project


@dataclass(frozen=True, slots=True)
class Mapping:
    """How one legacy source becomes rows of one new table (see the module docstring)."""

    name: str
    source: Table | Select[Any]
    key: tuple[str, ...] | str
    transform: Transform | None
    target: Table
    target_key: tuple[str, ...] | str | None = None
    updated_at: str | None = None
    routes: tuple[str, ...] = ()
    columns: AbcMapping[str, ColumnElement[Any]] | None = None
    _from: FromClause = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.columns is not None:
            if not isinstance(self.source, Table):
                raise MigrationError(self.name, "columns= needs a Table as the source")
            if self.transform is not None:
                raise MigrationError(self.name, "give either transform= or columns=, not both")
            names = tuple(self.columns)
            object.__setattr__(self, "transform", _projection(names))
        elif self.transform is None:
            raise MigrationError(self.name, "give a transform= function or columns= expressions")
        object.__setattr__(self, "key", _names(self.key))
        tk = self.key if self.target_key is None else _names(self.target_key)
        object.__setattr__(self, "target_key", tk)
        object.__setattr__(self, "routes", tuple(self.routes))
        src = self.source if isinstance(self.source, Table) else self.source.subquery("src")
        object.__setattr__(self, "_from", src)
        self._check()

    def _check(self) -> None:
        if not self.key:
            raise MigrationError(self.name, "the key needs at least one column")
        for col in (*self.keys, *([self.updated_at] if self.updated_at else [])):
            if col not in self._from.c:
                have = ", ".join(self._from.c.keys())
                raise MigrationError(
                    self.name, f"legacy source has no column {col!r} (columns: {have})"
                )
        if len(self.target_keys) != len(self.keys):
            raise MigrationError(
                self.name,
                f"target_key {self.target_keys} must name one target column per key column "
                f"{self.keys}",
            )
        for col in self.target_keys:
            if col not in self.target.c:
                raise MigrationError(
                    self.name,
                    f"target {self.target.name} has no column {col!r}; set target_key to the "
                    "target columns that hold the legacy key",
                )
        if not self.target.primary_key.columns:
            raise MigrationError(
                self.name, f"target {self.target.name} needs a primary key for idempotent upserts"
            )

    @property
    def keys(self) -> tuple[str, ...]:
        """The legacy key column names."""
        return self.key if isinstance(self.key, tuple) else (self.key,)

    @property
    def target_keys(self) -> tuple[str, ...]:
        """The target columns holding the legacy key, in key order."""
        tk = self.target_key
        return tk if isinstance(tk, tuple) else self.keys

    @property
    def in_sql(self) -> bool:
        """Whether the transform is SQL (``columns=``), so the database can run it."""
        return self.columns is not None

    def selected(self) -> list[Any]:
        """What to select from the legacy source: its columns, and the SQL-mapped ones."""
        extra = [e.label(f"{_PREFIX}{n}") for n, e in (self.columns or {}).items()]
        return [self._from, *extra]

    @property
    def source_from(self) -> FromClause:
        """The legacy source as something to select from (a select becomes a subquery)."""
        return self._from

    def key_columns(self) -> list[ColumnElement[Any]]:
        return [self._from.c[n] for n in self.keys]

    def target_key_columns(self) -> list[ColumnElement[Any]]:
        return [self.target.c[n] for n in self.target_keys]

    @property
    def target_pk(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.target.primary_key.columns)

    def read(self, conn: Connection, query: Select[Any]) -> list[dict[str, Any]]:
        """Legacy rows as plain dicts (much cheaper than SQLAlchemy's row mappings)."""
        result = conn.execute(query)
        names = list(result.keys())
        return [dict(zip(names, row, strict=True)) for row in result.all()]

    def run_transform(self, row: AbcMapping[str, Any]) -> list[dict[str, Any]]:
        """The new rows for one legacy row; a failing transform names the row's key."""
        assert self.transform is not None  # set in __post_init__
        try:
            return list(self.transform(row))
        except Exception as exc:
            key = tuple(row[n] for n in self.keys)
            raise MigrationError(
                self.name,
                f"transform failed on legacy key {key!r}: {exc.__class__.__name__}: {exc}; "
                "fix the transform and rerun (the backfill resumes at this row)",
            ) from exc


@dataclass(frozen=True, slots=True)
class Databases:
    """Engines for the legacy and new application databases."""

    legacy: Engine
    new: Engine

    @property
    def one_database(self) -> bool:
        """Whether legacy and new are the same database (same URL)."""
        same = self.legacy.url.render_as_string(hide_password=False)
        return self.legacy is self.new or same == self.new.url.render_as_string(hide_password=False)

    def dispose(self) -> None:
        self.legacy.dispose()
        self.new.dispose()


def _resolve_sqlite(url: str, base: Path) -> str:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url.removeprefix("sqlite:///")
        if rel and not rel.startswith(":memory:"):
            return f"sqlite:///{(base / rel).resolve()}"
    return url


def _engine(url: str, role: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            # The sqlite3 timeout is SQLite's busy timeout: wait for a writer, don't fail.
            return create_engine(url, connect_args={"timeout": 30})
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, SQLAlchemyError, ImportError, ValueError) as exc:
        raise MigrationError(
            "-", f"cannot open the {role} database {url!r}: {brief_error(exc)}"
        ) from exc


def open_databases(cfg: Config) -> Databases:
    """Engines for ``databases.legacy`` and ``databases.new`` of the config."""
    base = Path(cfg.source).parent if cfg.source else Path.cwd()
    urls = {"legacy": cfg.databases.legacy, "new": cfg.databases.new}
    for role, url in urls.items():
        if not url:
            raise MigrationError(
                "-",
                f"the config has no databases.{role} URL; add e.g. "
                f"'databases: {{{role}: \"postgresql+psycopg://host/db\"}}'",
            )
    legacy = _engine(_resolve_sqlite(str(urls["legacy"]), base), "legacy")
    new = _engine(_resolve_sqlite(str(urls["new"]), base), "new")
    return Databases(legacy, new)


def load_mapping(cfg: Config, name: str) -> Mapping:
    """Import the mapping ``name`` from the config's ``mappings`` (``module:attribute``).

    The config file's folder is importable, so mappings can sit next to the config.
    """
    spec = cfg.mappings.get(name)
    if spec is None:
        known = ", ".join(sorted(cfg.mappings)) or "none"
        raise MigrationError(name, f"not in the config's mappings (known: {known})")
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise MigrationError(name, f"{spec!r} is not 'module:attribute'")
    if cfg.source:
        folder = str(Path(cfg.source).resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise MigrationError(
            name, f"cannot import {module_name!r}: {exc.__class__.__name__}: {exc}"
        ) from exc
    value = getattr(module, attr, None)
    if not isinstance(value, Mapping):
        raise MigrationError(
            name, f"{spec!r} is {type(value).__name__}, expected a migrations.Mapping"
        )
    return value


def brief_error(exc: BaseException, limit: int = 300) -> str:
    """One line saying what failed: for a database error, the driver's own first line
    (``IntegrityError: NOT NULL constraint failed: orders.note``) without the statement
    and the batch of rows SQLAlchemy appends (customers' data has no place in a terminal,
    a CI log or the job log)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
