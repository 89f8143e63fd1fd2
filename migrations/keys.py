"""Key-range predicates on any engine, over key values as :mod:`strangler.store` keeps them.

A key is a tuple (one value per key column, composite keys included); the backfill cursor,
the fixed end point and chunk bounds are keys, stored as JSON by the store (its tagged
encoding is re-exported here)::

    >>> decode_key(encode_key((7, "b")))
    (7, 'b')

A range is ``(lo, hi]``: ``lo`` exclusive (None: from the start), ``hi`` inclusive (None: to
the end), so a cursor is "the last key done" and never an offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true, tuple_

from strangler.store import Key, decode_key, decode_value, encode_key, encode_value

__all__ = [
    "Key",
    "after",
    "decode_key",
    "decode_value",
    "encode_key",
    "encode_value",
    "in_range",
    "key_in",
    "up_to",
]


def _compare(
    cols: Sequence[ColumnElement[Any]], key: Key, op: str, dialect: str
) -> ColumnElement[bool]:
    if len(cols) == 1:
        single: ColumnElement[bool] = cols[0] > key[0] if op == ">" else cols[0] <= key[0]
        return single
    if dialect not in ("mysql", "mariadb"):
        # Row values use the composite index on SQLite and PostgreSQL.
        row = tuple_(*cols)
        return row > tuple_(*key) if op == ">" else row <= tuple_(*key)
    # MariaDB plans the expanded form as index ranges, row values as a scan.
    terms: list[ColumnElement[bool]] = []
    for i in range(len(cols)):
        eqs = [cols[j] == key[j] for j in range(i)]
        last = cols[i] > key[i] if op == ">" else cols[i] < key[i]
        terms.append(and_(*eqs, last))
    if op == "<=":
        terms.append(and_(*(c == v for c, v in zip(cols, key, strict=True))))
    return or_(*terms)


def after(cols: Sequence[ColumnElement[Any]], key: Key, dialect: str) -> ColumnElement[bool]:
    """``cols > key`` in key order."""
    return _compare(cols, key, ">", dialect)


def up_to(cols: Sequence[ColumnElement[Any]], key: Key, dialect: str) -> ColumnElement[bool]:
    """``cols <= key`` in key order."""
    return _compare(cols, key, "<=", dialect)


def in_range(
    cols: Sequence[ColumnElement[Any]], lo: Key | None, hi: Key | None, dialect: str
) -> ColumnElement[bool]:
    """``lo < cols <= hi`` (an open side when None)."""
    parts: list[ColumnElement[bool]] = []
    if lo is not None:
        parts.append(after(cols, lo, dialect))
    if hi is not None:
        parts.append(up_to(cols, hi, dialect))
    return and_(*parts) if parts else true()


def key_in(cols: Sequence[ColumnElement[Any]], keys: Sequence[Key]) -> ColumnElement[bool]:
    """Rows whose key is one of ``keys``."""
    if not keys:
        return false()
    if len(cols) == 1:
        return cols[0].in_([k[0] for k in keys])
    return or_(*(and_(*(c == v for c, v in zip(cols, k, strict=True))) for k in keys))
