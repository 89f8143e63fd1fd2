"""The JSON form of key values in the store (backfill cursors, end points, chunk bounds).

A key is a tuple (one value per key column, composite keys included), stored as a JSON list
with a small tagged encoding for the values JSON lacks::

    >>> decode_key(encode_key((7, "b")))
    (7, 'b')
    >>> encode_key((Decimal("1.50"),))
    [{'$dec': '1.50'}]
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["Key", "decode_key", "decode_value", "encode_key", "encode_value"]

Key = tuple[Any, ...]


def encode_value(value: Any) -> Any:
    """One key value in its JSON form (TypeError for a type the store cannot keep)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b": bytes(value).hex()}
    raise TypeError(f"key value {value!r} of type {type(value).__name__} cannot be stored")


def decode_value(value: Any) -> Any:
    """One key value back from its JSON form."""
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if tag == "$dec":
            return Decimal(text)
        if tag == "$dt":
            return datetime.fromisoformat(text)
        if tag == "$d":
            return date.fromisoformat(text)
        if tag == "$b":
            return bytes.fromhex(text)
    return value


def encode_key(key: Key | None) -> list[Any] | None:
    """The JSON form of a key (None stays None)."""
    return None if key is None else [encode_value(v) for v in key]


def decode_key(data: Any) -> Key | None:
    """A key back from its JSON form."""
    return None if data is None else tuple(decode_value(v) for v in data)
