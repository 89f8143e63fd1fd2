"""The path policy: one path for routing and for the backend, or a 400.

A route is only as good as the path it matches. If the proxy matched the raw path while a
backend resolved ``..``, decoded ``%2e`` or merged ``//``, a request for
``/public/../admin/secret`` would match the catch-all (legacy) and reach an admin page the
team retired. So the proxy normalises first, routes on the result and forwards that same
result (like Envoy's ``normalize_path``, ``merge_slashes`` and
``path_with_escaped_slashes_action: REJECT_REQUEST``):

1. percent-escapes of unreserved characters (``A-Z a-z 0-9 - . _ ~``) are decoded, other
   escapes have their hex upper-cased (``%2e`` -> ``.``, ``%c3%a9`` -> ``%C3%A9``);
2. runs of ``/`` become one (``merge_slashes``, on by default);
3. ``.`` and ``..`` segments are removed as RFC 3986 §5.2.4 says;
4. what stays ambiguous is refused with 400, because two servers could read it two ways:
   an encoded ``/`` or ``\\`` (``%2f``, ``%5c``), a raw ``\\``, a NUL or other control
   character, an escaped ``%`` that forms another escape (``%252e``), escapes that are not
   valid UTF-8 (overlong ``%c0%ae``), a ``..`` that climbs above ``/``, and ``;`` path
   parameters (``/admin;x/secret``, ``..;/``: servlet containers strip them) unless
   ``semicolons: keep``.

The common path (no ``%``, no ``.`` segment, no ``//``, no ``;`` or ``\\``) is returned as
it is after one scan.

>>> normalise_path(b"/public/%2e%2e/admin/secret")
'/admin/secret'
>>> normalise_path(b"/a//b/./c/")
'/a/b/c/'
>>> normalise_path(b"/files/..%2fetc/passwd")
Traceback (most recent call last):
...
strangler.proxy._paths.BadPath: an encoded '/' or '\\' (%2F, %5C) in the path
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BadPath", "PathPolicy", "match_path", "normalise_path"]

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
# Bytes that send a path to the slow branch; everything else is forwarded untouched.
_SPECIAL = re.compile(rb"[%;\\]|//|/\.\.?(?:/|$)|[\x00-\x1f\x7f]")


class BadPath(ValueError):
    """A path the proxy refuses (400) because backends could read it in different ways."""


@dataclass(frozen=True, slots=True)
class PathPolicy:
    """How the proxy treats paths (``proxy.paths`` in the config)."""

    merge_slashes: bool = True
    semicolons: str = "reject"  # or "keep"
    escaped_slashes: str = "reject"  # or "keep": %2F/%5C stay inside their segment
    trailing_slash: str = "ignore"  # or "strict": /a/ matches only a template ending in /
    root_path: str = "strip"  # or "keep": a mount's prefix stays in the routed path


DEFAULT = PathPolicy()


def normalise_path(raw: bytes, policy: PathPolicy = DEFAULT) -> str:
    """The path to route on and forward (``str``, escapes kept upper-case), or BadPath."""
    if not raw.startswith(b"/"):
        if raw == b"*" or raw == b"":
            return raw.decode("latin-1") or "/"
        raise BadPath("a path that starts with '/'")
    if _SPECIAL.search(raw) is None:
        return raw.decode("latin-1")
    if b"\\" in raw:
        raise BadPath("a '\\' in the path")
    if _CONTROL.search(raw):
        raise BadPath("a control character in the path")
    if b";" in raw and policy.semicolons != "keep":
        raise BadPath("';' path parameters (set proxy.paths.semicolons: keep to allow them)")
    _check_escapes(raw, keep_slashes=policy.escaped_slashes == "keep")
    decoded = _ESCAPE.sub(_decode_unreserved, raw)
    segments = decoded.split(b"/")[1:]
    out: list[bytes] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        name = segment.split(b";", 1)[0] if policy.semicolons == "keep" else segment
        if name == b".":
            if last:
                out.append(b"")
            continue
        if name == b"..":
            if not out or out == [b""]:
                raise BadPath("a '..' that climbs above '/'")
            out.pop()
            if last:
                out.append(b"")
            continue
        if segment == b"" and not last and policy.merge_slashes:
            continue
        out.append(segment)
    return ("/" + "/".join(s.decode("latin-1") for s in out)) if out else "/"


_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def _check_escapes(raw: bytes, *, keep_slashes: bool = False) -> None:
    """Refuse escapes that hide a separator, another escape, or bytes that are not UTF-8."""
    matches = list(_ESCAPE.finditer(raw))
    if len(matches) != raw.count(b"%"):
        raise BadPath("a '%' that does not start an escape (%XX)")
    run = bytearray()
    end = -1
    for match in matches:
        byte = int(match.group(1), 16)
        if byte in (0x2F, 0x5C) and not keep_slashes:
            raise BadPath("an encoded '/' or '\\' (%2F, %5C) in the path")
        if byte < 0x20 or byte == 0x7F:
            raise BadPath("an encoded control character (%00-%1F, %7F) in the path")
        if byte == 0x25 and re.fullmatch(rb"[0-9A-Fa-f]{2}", raw[match.end() : match.end() + 2]):
            raise BadPath("an escaped '%' that forms another escape (%25XX)")
        if match.start() != end:
            _utf8(run)
            run.clear()
        run.append(byte)
        end = match.end()
    _utf8(run)


def _utf8(run: bytearray) -> None:
    """A run of consecutive escapes must spell valid UTF-8 (no overlong forms)."""
    try:
        bytes(run).decode("utf-8")
    except UnicodeDecodeError:
        raise BadPath("escapes that are not valid UTF-8 (overlong or truncated)") from None


def _decode_unreserved(match: re.Match[bytes]) -> bytes:
    byte = int(match.group(1), 16)
    if byte in _UNRESERVED:
        return bytes((byte,))
    return b"%" + match.group(1).upper()


_RUN = re.compile(r"(?:%[0-9A-F]{2})+")
_SLASHES = re.compile(r"(%2F|%5C)")


def match_path(normal: str) -> str:
    """The path routes are matched on: ``normal`` with its escapes decoded, except an
    encoded ``/`` or ``\\`` kept by ``escaped_slashes: keep`` (it stays inside its segment).

    >>> match_path("/files/caf%C3%A9/a%2Fb")
    '/files/café/a%2Fb'
    """
    if "%" not in normal:
        return normal
    return _RUN.sub(lambda m: "".join(_decode_run(p) for p in _SLASHES.split(m.group(0))), normal)


def _decode_run(part: str) -> str:
    if part in ("%2F", "%5C"):
        return part
    return bytes.fromhex(part.replace("%", "")).decode("utf-8", "surrogateescape")
