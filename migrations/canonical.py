"""Values in the new schema's representation, so both sides of a verification compare equal.

Each target column gets one small function chosen by its SQLAlchemy type: a ``Numeric`` value
becomes a normalised ``Decimal`` (``"12.30"``, ``12.3`` and ``Decimal("12.3")`` agree), a
``DateTime`` an aware UTC datetime (engines that keep naive values store UTC), a ``Date`` a
date, an ``Integer`` an int, a ``JSON`` value its sorted-keys JSON text::

    >>> canon = canonicalizers(table)                       # doctest: +SKIP
    >>> canon["amount"]("12.30") == canon["amount"](Decimal("12.3"))
    True
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    TypeDecorator,
)
from sqlalchemy.types import TypeEngine

__all__ = ["Canon", "canonicalizers"]

Canon = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _decimal(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
        return d.normalize() if d.is_finite() else d
    except (InvalidOperation, ValueError):
        return value


def _float(value: Any) -> Any:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return value


def _int(value: Any) -> Any:
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _bool(value: Any) -> Any:
    return None if value is None else bool(value)


def _datetime(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _date(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _string(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, sort_keys=True, default=str)


def _for_type(t: TypeEngine[Any]) -> Canon:
    if isinstance(t, TypeDecorator):
        t = t.impl if isinstance(t.impl, TypeEngine) else t.impl()
    if isinstance(t, Boolean):
        return _bool
    if isinstance(t, Integer):
        return _int
    if isinstance(t, Float):
        return _float
    if isinstance(t, Numeric):
        return _decimal if t.asdecimal else _float
    if isinstance(t, DateTime):
        return _datetime
    if isinstance(t, Date):
        return _date
    if isinstance(t, JSON):
        return _json
    if isinstance(t, String):
        return _string
    return _same


def canonicalizers(table: Table) -> dict[str, Canon]:
    """One canonicalising function per column of ``table``."""
    return {c.name: _for_type(c.type) for c in table.columns}
