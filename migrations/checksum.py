"""Key-range checksums computed by the databases, for mappings declared in SQL (``columns=``).

Each side renders every compared column as text in one canonical form (the target column's
type decides it: integers in decimal, numerics at the column's scale, timestamps in UTC as
``YYYY-MM-DD HH:MM:SS.ffffff``, NULL as a marker), joins the columns of a row, hashes the
row text and sums the hashes of a key range. The legacy side goes through the mapping's column
expressions, the new side is read as stored; equal data gives equal ``(count, sum)`` on
both sides, whichever engines they run on::

    >>> plan = ChecksumPlan.for_mapping(mapping, "mariadb", "postgresql")  # doctest: +SKIP
    >>> plan.legacy(conn, lo, hi) == plan.new(conn2, lo, hi)               # doctest: +SKIP
    True

The hash is the first 40 bits of MD5 (PostgreSQL and MariaDB natively; SQLite through a
registered function), or ``hashtextextended`` when both sides are PostgreSQL. Only a column
type with a canonical text form here can be summed: Integer, String, Numeric with a scale,
DateTime, Date, Boolean. :meth:`ChecksumPlan.for_mapping` returns None otherwise, and the
verification compares rows in Python instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    case,
    cast,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.types import TypeEngine

from .keys import Key, in_range
from .mapping import Mapping

__all__ = ["ChecksumPlan", "RangeSum"]

RangeSum = tuple[int, int]
"""``(rows, sum of row hashes)`` of one key range."""

_SEP = "\x1f"
_NULL = "\x1e"
_HASH_BITS = 40
_Render = Callable[[ColumnElement[Any]], ColumnElement[Any]]


def _h40(text: str | None) -> int | None:
    if text is None:
        return None
    return int(hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:10], 16)


def _base(t: TypeEngine[Any]) -> TypeEngine[Any]:
    if isinstance(t, TypeDecorator):
        return t.impl if isinstance(t.impl, TypeEngine) else t.impl()
    return t


def _renderer(t: TypeEngine[Any], dialect: str, micro: bool) -> _Render | None:
    """How ``dialect`` writes a value of type ``t`` as canonical text (None: it cannot)."""
    t = _base(t)
    mariadb = dialect in ("mysql", "mariadb")
    if isinstance(t, Boolean):
        if dialect == "postgresql":
            return lambda x: case((cast(x, Boolean), "1"), else_="0")
        return lambda x: case((x != 0, "1"), else_="0")
    if isinstance(t, Integer):
        return lambda x: cast(cast(x, BigInteger), Text)
    if isinstance(t, Numeric):
        if not t.asdecimal or t.scale is None:
            return None
        precision, scale = t.precision or 38, t.scale
        if dialect == "sqlite":
            return lambda x: func.printf(f"%.{scale}f", x)
        return lambda x: cast(cast(x, Numeric(precision, scale)), Text)
    if isinstance(t, DateTime):
        if dialect == "postgresql":
            pg = postgresql.TIMESTAMP(timezone=bool(t.timezone))
            fmt = "YYYY-MM-DD HH24:MI:SS." + ("US" if micro else "MS")
            return lambda x: func.to_char(cast(x, pg), fmt)
        if mariadb:
            return lambda x: func.left(
                func.date_format(cast(x, mysql.DATETIME(fsp=6)), "%Y-%m-%d %H:%i:%s.%f"),
                26 if micro else 23,
            )
        if dialect == "sqlite" and not micro:
            return lambda x: func.strftime("%Y-%m-%d %H:%M:%f", x)
        return None
    if isinstance(t, Date):
        if dialect == "postgresql":
            return lambda x: func.to_char(cast(x, Date), "YYYY-MM-DD")
        if mariadb:
            return lambda x: func.date_format(x, "%Y-%m-%d")
        return lambda x: func.date(x)
    if isinstance(t, String):
        return lambda x: cast(x, Text)
    return None


def _row_text(parts: list[ColumnElement[Any]], dialect: str) -> ColumnElement[Any]:
    pieces: list[ColumnElement[Any]] = []
    for i, p in enumerate(parts):
        if i:
            pieces.append(literal(_SEP, String))
        pieces.append(p)
    if dialect == "sqlite":
        return reduce(lambda a, b: a.op("||")(b), pieces)
    return func.concat(*pieces)


def _hash(text: ColumnElement[Any], dialect: str, family: str) -> ColumnElement[Any]:
    if family == "postgresql":
        return func.hashtextextended(text, 0)
    if dialect == "postgresql":
        hexpart = literal("x", String).op("||")(func.substr(func.md5(text), 1, 10))
        return cast(cast(hexpart, postgresql.BIT(_HASH_BITS)), BigInteger)
    if dialect in ("mysql", "mariadb"):
        return cast(
            func.conv(func.substr(func.md5(text), 1, 10), 16, 10), mysql.INTEGER(unsigned=True)
        )
    return func.strangler_h40(text)


@dataclass(frozen=True, slots=True)
class ChecksumPlan:
    """The two checksum queries of a mapping, for one pair of dialects."""

    mapping: Mapping
    columns: tuple[str, ...]
    legacy_dialect: str
    new_dialect: str
    family: str
    micro: bool

    @classmethod
    def for_mapping(
        cls, mapping: Mapping, legacy_dialect: str, new_dialect: str
    ) -> ChecksumPlan | None:
        """The plan, or None when the mapping or a column type has no SQL checksum."""
        if not mapping.in_sql or not mapping.columns:
            return None
        supported = {"postgresql", "mysql", "mariadb", "sqlite"}
        if legacy_dialect not in supported or new_dialect not in supported:
            return None
        micro = "sqlite" not in (legacy_dialect, new_dialect)
        names = tuple(c.name for c in mapping.target.columns if c.name in mapping.columns)
        for name in names:
            t = mapping.target.c[name].type
            for d in (legacy_dialect, new_dialect):
                if _renderer(t, d, micro) is None:
                    return None
        both_pg = legacy_dialect == new_dialect == "postgresql"
        family = "postgresql" if both_pg else "md5"
        return cls(mapping, names, legacy_dialect, new_dialect, family, micro)

    def _sum_query(
        self, values: list[ColumnElement[Any]], dialect: str, where: ColumnElement[bool]
    ) -> Any:
        parts: list[ColumnElement[Any]] = []
        for name, value in zip(self.columns, values, strict=True):
            render = _renderer(self.mapping.target.c[name].type, dialect, self.micro)
            assert render is not None  # checked in for_mapping
            parts.append(case((value.is_(None), literal(_NULL, String)), else_=render(value)))
        h = _hash(_row_text(parts, dialect), dialect, self.family)
        return select(func.count(), func.sum(h)).where(where)

    @property
    def integer_key(self) -> bool:
        """A single integer key: ranges can be spans of key values, summed in one query."""
        m = self.mapping
        cols = [*m.key_columns(), *m.target_key_columns()]
        return len(m.keys) == 1 and all(isinstance(_base(c.type), Integer) for c in cols)

    def _session(self, conn: Connection) -> None:
        dialect = conn.dialect.name
        if dialect == "sqlite":
            raw: Any = conn.connection.driver_connection
            raw.create_function("strangler_h40", 1, _h40, deterministic=True)
        elif dialect == "postgresql":
            conn.exec_driver_sql("SET TIME ZONE 'UTC'")
        else:
            conn.exec_driver_sql("SET time_zone = '+00:00'")

    def _run(self, conn: Connection, query: Any) -> RangeSum:
        self._session(conn)
        count, total = conn.execute(query).one()
        return int(count or 0), int(total or 0)

    def _buckets(
        self, conn: Connection, query: Any, key: ColumnElement[Any], start: int, width: int
    ) -> dict[int, RangeSum]:
        self._session(conn)
        bucket = ((key - literal(start, BigInteger)) // literal(width, BigInteger)).label("b")
        q = query.add_columns(bucket).group_by(bucket)
        return {int(b): (int(n), int(h or 0)) for n, h, b in conn.execute(q)}

    def legacy_buckets(self, conn: Connection, start: int, width: int) -> dict[int, RangeSum]:
        """Bucket ``b`` -> ``(rows, hash sum)`` of the legacy keys in ``[start + b * width,
        start + (b + 1) * width)``, in one query (needs :attr:`integer_key`)."""
        m = self.mapping
        cols = m.columns or {}
        q = self._sum_query([cols[n] for n in self.columns], self.legacy_dialect, true())
        return self._buckets(conn, q.select_from(m.source_from), m.key_columns()[0], start, width)

    def new_buckets(self, conn: Connection, start: int, width: int) -> dict[int, RangeSum]:
        """The same buckets of the target rows, by their ``target_key``."""
        m = self.mapping
        q = self._sum_query([m.target.c[n] for n in self.columns], self.new_dialect, true())
        key = m.target_key_columns()[0]
        return self._buckets(conn, q.select_from(m.target), key, start, width)

    def legacy(self, conn: Connection, lo: Key | None, hi: Key | None) -> RangeSum:
        """``(rows, hash sum)`` of the mapped legacy rows with keys in ``(lo, hi]``."""
        m = self.mapping
        cols = m.columns or {}
        where = in_range(m.key_columns(), lo, hi, self.legacy_dialect)
        q = self._sum_query([cols[n] for n in self.columns], self.legacy_dialect, where)
        return self._run(conn, q.select_from(m.source_from))

    def new(self, conn: Connection, lo: Key | None, hi: Key | None) -> RangeSum:
        """``(rows, hash sum)`` of the target rows with ``target_key`` in ``(lo, hi]``."""
        m = self.mapping
        where = in_range(m.target_key_columns(), lo, hi, self.new_dialect)
        q = self._sum_query([m.target.c[n] for n in self.columns], self.new_dialect, where)
        return self._run(conn, q.select_from(m.target))
