"""Undo ``Content-Encoding`` (gzip, deflate, br) before a body is compared or stored.

Decoders form a registry by coding name; the output is capped so that a small compressed
body cannot expand without limit.

>>> import gzip
>>> decode_body(gzip.compress(b'{"a": 1}'), "gzip")
b'{"a": 1}'
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable

__all__ = ["DECODERS", "MAX_DECODED", "UndecodableBody", "decode_body"]

MAX_DECODED = 64 << 20


class UndecodableBody(ValueError):
    """A body that does not decode with its declared content coding."""

    def __init__(self, coding: str, detail: str) -> None:
        self.coding = coding
        super().__init__(f"body does not decode as {coding}: {detail}")


def _zlib(wbits: int) -> Callable[[bytes, int], bytes]:
    def decode(data: bytes, limit: int) -> bytes:
        d = zlib.decompressobj(wbits)
        out = d.decompress(data, limit + 1)
        if len(out) > limit:
            raise UndecodableBody("deflate" if wbits != 47 else "gzip", f"over {limit} bytes")
        return out + d.flush()

    return decode


def _deflate(data: bytes, limit: int) -> bytes:
    # "deflate" is zlib-wrapped by the spec, but some servers send raw deflate.
    try:
        return _zlib(zlib.MAX_WBITS)(data, limit)
    except zlib.error:
        return _zlib(-zlib.MAX_WBITS)(data, limit)


def _identity(data: bytes, limit: int) -> bytes:
    return data


DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _zlib(47),  # 32 + 15: gzip or zlib header, detected
    "x-gzip": _zlib(47),
    "deflate": _deflate,
    "identity": _identity,
}

try:  # brotli is optional: without it, br bodies are reported as undecodable
    _br = importlib.import_module("brotli")

    def _brotli(data: bytes, limit: int) -> bytes:
        out: bytes = _br.decompress(data)
        if len(out) > limit:
            raise UndecodableBody("br", f"over {limit} bytes")
        return out

    DECODERS["br"] = _brotli
except ImportError:  # pragma: no cover - depends on the environment
    pass


def decode_body(body: bytes, content_encoding: str | None, limit: int = MAX_DECODED) -> bytes:
    """The body with its content codings undone (listed first = applied first)."""
    if not content_encoding or not body:
        return body
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        decoder = DECODERS.get(coding)
        if decoder is None:
            raise UndecodableBody(coding, "unsupported content coding")
        try:
            body = decoder(body, limit)
        except UndecodableBody:
            raise
        except Exception as exc:  # zlib.error, brotli.error: corrupt data
            raise UndecodableBody(coding, str(exc) or exc.__class__.__name__) from exc
    return body
