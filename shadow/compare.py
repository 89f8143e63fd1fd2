"""Compare two answers to the same request: status, then headers, then the body.

:func:`compare` is a pure function and a pipeline of small steps (:data:`STEPS`); the body
step picks a comparator by media type from a registry (:data:`BODY_COMPARATORS`): JSON
structurally (orjson), text as text, anything else by hash. Content encodings are decoded
first, and equal bytes short-circuit everything::

    >>> from shadow.exchange import CapturedResponse
    >>> from shadow.rules import Rules, compile_rules
    >>> json = (("content-type", "application/json"),)
    >>> a = CapturedResponse(200, json, b'{"id": 1, "at": "x"}')
    >>> b = CapturedResponse(200, json, b'{"id": 2, "at": "y"}')
    >>> v = compare(a, b, compile_rules(Rules(ignore=("$.at",))))
    >>> v.outcome, [(d.path, d.kind) for d in v.differences]
    ('mismatch', [('$.id', 'value')])
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from shadow.encoding import UndecodableBody, decode_body
from shadow.exchange import CapturedResponse, Headers
from shadow.jsondiff import DEFAULT_LIMIT, diff_json
from shadow.normalise import normalise
from shadow.rules import CompiledRules
from shadow.verdict import Difference, DifferenceKind, Verdict

__all__ = [
    "BODY_COMPARATORS",
    "STEPS",
    "BodyComparator",
    "compare",
    "compare_headers",
    "media_type",
]

_MATCH = Verdict("match")


@dataclass(slots=True)
class _Context:
    legacy: CapturedResponse
    new: CapturedResponse
    rules: CompiledRules
    limit: int
    out: list[Difference]
    truncated: bool = False


# A step adds differences to the context and returns True to stop the pipeline.
Step = Callable[[_Context], bool]


def media_type(headers: Headers) -> tuple[str, str]:
    """``(media type, charset)`` of a response's Content-Type (lower-case)."""
    value = next((v for k, v in headers if k == "content-type"), "")
    kind, _, params = value.partition(";")
    charset = "utf-8"
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip('"').lower()
    return kind.strip().lower(), charset


_AUTH_STATUS = frozenset({401, 403})


def _error_step(ctx: _Context) -> bool:
    a, b = ctx.legacy, ctx.new
    if a.error is None and b.error is None:
        return False
    if a.error is None or b.error is None:
        failed = a.error or b.error or ""
        # A credential the bridge could not translate is an auth problem, not new's error.
        kind: DifferenceKind = "auth" if failed.startswith("auth: ") else "error"
        ctx.out.append(Difference(kind, kind, a.error or a.status, b.error or b.status, kind))
    return True


def _status_step(ctx: _Context) -> bool:
    if ctx.legacy.status == ctx.new.status:
        return False
    # 401/403 on one side only: a credential that did not cross the seam (an auth domain
    # without a bridge), reported apart from real status differences.
    kind: DifferenceKind = (
        "auth"
        if (ctx.legacy.status in _AUTH_STATUS) != (ctx.new.status in _AUTH_STATUS)
        else "status"
    )
    ctx.out.append(Difference(kind, kind, ctx.legacy.status, ctx.new.status, kind))
    return True  # two bodies of different statuses are not worth comparing field by field


def _header_value(name: str, value: str) -> str:
    if name == "content-type":
        return canonical_media_type(value)
    if name in _FRAMING:
        return "length-delimited" if name == "content-length" else "chunked"
    return value


_FRAMING = frozenset({"content-length", "transfer-encoding"})


def canonical_media_type(value: str) -> str:
    """A Content-Type compared by meaning: type and subtype lower-case, parameters sorted
    with lower-case names, unquoted values, the charset lower-case, and JSON's only charset
    (UTF-8, RFC 8259) implied.

    >>> canonical_media_type('Application/JSON; Charset="UTF-8"')
    'application/json'
    >>> canonical_media_type("text/html;charset=ISO-8859-1; q=1")
    'text/html;charset=iso-8859-1;q=1'
    """
    kind, _, rest = value.partition(";")
    kind = kind.strip().lower()
    params = []
    for part in rest.split(";"):
        name, sep, val = part.partition("=")
        name = name.strip().lower()
        if not name or not sep:
            continue
        val = val.strip().strip('"')
        if name == "charset":
            val = val.lower()
            if val in ("utf-8", "utf8") and (kind == "application/json" or kind.endswith("+json")):
                continue
        params.append(f"{name}={val}")
    return ";".join([kind, *sorted(params)])


def _header_map(headers: Headers, rules: CompiledRules) -> dict[str, str]:
    compared, ignored = rules.compared_headers, rules.ignored_headers
    out: dict[str, str] = {}
    for name, value in headers:
        if name in ignored or (compared is not None and name not in compared):
            continue
        if name[0] == "x" and name.startswith("x-strangler-"):
            continue
        if name == "content-type" or name in _FRAMING:
            value = _header_value(name, value)
            if name in _FRAMING:
                out["framing"] = value  # how the body is delimited, never its length
                continue
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def compare_headers(legacy: Headers, new: Headers, rules: CompiledRules) -> list[Difference]:
    """Differences of the compared headers (names lower-case, as captured)."""
    if legacy == new:
        return []
    a, b = _header_map(legacy, rules), _header_map(new, rules)
    if a == b:
        return []
    out = []
    for name in sorted(a.keys() | b.keys()):
        if a.get(name) != b.get(name):
            path = f"header:{name}"
            kind: DifferenceKind = "framing" if name == "framing" else "header"
            out.append(Difference(path, kind, a.get(name), b.get(name), path))
    return out


def _header_step(ctx: _Context) -> bool:
    ctx.out.extend(compare_headers(ctx.legacy.headers, ctx.new.headers, ctx.rules))
    return False


BodyFn = Callable[[bytes, bytes, str, CompiledRules, int], tuple[list[Difference], bool]]


@dataclass(frozen=True, slots=True)
class BodyComparator:
    """Compares bodies of the media types ``accepts`` says yes to."""

    name: str
    accepts: Callable[[str], bool]
    compare: BodyFn


def _is_json(kind: str) -> bool:
    return kind == "application/json" or kind.endswith("+json")


_TEXT_TYPES = frozenset(
    {
        "application/xml",
        "application/javascript",
        "application/x-www-form-urlencoded",
        "application/x-ndjson",
        "application/graphql",
    }
)


def _is_text(kind: str) -> bool:
    return kind.startswith("text/") or kind.endswith("+xml") or kind in _TEXT_TYPES


def _first_line_diff(a: str, b: str) -> tuple[int, str, str, int]:
    la, lb = a.splitlines(), b.splitlines()
    changed = 0
    first: tuple[int, str, str] | None = None
    matcher = difflib.SequenceMatcher(None, la, lb, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        changed += max(i2 - i1, j2 - j1)
        if first is None:
            first = (i1 + 1, "\n".join(la[i1:i2])[:300], "\n".join(lb[j1:j2])[:300])
    line, old, new = first or (1, a[:300], b[:300])
    return line, old, new, changed


def _compare_text(
    a: bytes, b: bytes, charset: str, rules: CompiledRules, limit: int
) -> tuple[list[Difference], bool]:
    try:
        ta, tb = a.decode(charset, "replace"), b.decode(charset, "replace")
    except LookupError:  # an unknown charset name
        ta, tb = a.decode("utf-8", "replace"), b.decode("utf-8", "replace")
    for mask in rules.text_masks:
        ta, tb = mask.apply(ta), mask.apply(tb)
    if ta == tb:
        return [], False
    line, old, new, changed = _first_line_diff(ta, tb)
    path = f"$ (line {line}; {changed} line(s) differ)"
    return [Difference(path, "value", old, new, "$")], False


def _digest(body: bytes) -> str:
    return f"sha256:{hashlib.sha256(body).hexdigest()[:16]} ({len(body)} bytes)"


def _compare_binary(
    a: bytes, b: bytes, charset: str, rules: CompiledRules, limit: int
) -> tuple[list[Difference], bool]:
    if a == b:
        return [], False
    return [Difference("$", "value", _digest(a), _digest(b), "$")], False


def _compare_json(
    a: bytes, b: bytes, charset: str, rules: CompiledRules, limit: int
) -> tuple[list[Difference], bool]:
    parsed: list[Any] = []
    errors: list[str | None] = []
    for body in (a, b):
        try:
            parsed.append(orjson.loads(body) if body else None)
            errors.append(None)
        except orjson.JSONDecodeError as exc:
            parsed.append(None)
            errors.append(f"invalid JSON: {exc}")
    if errors[0] and errors[1]:
        return _compare_text(a, b, charset, rules, limit)
    if errors[0] or errors[1]:
        legacy = errors[0] or "valid JSON"
        new = errors[1] or "valid JSON"
        return [Difference("$", "type", legacy, new, "$")], False
    doc_a, doc_b = parsed
    if doc_a == doc_b:
        return [], False
    if rules.has_body_rules:
        doc_a, doc_b = normalise(doc_a, rules), normalise(doc_b, rules)
    return diff_json(doc_a, doc_b, rules, limit=limit)


#: Body comparators, first match wins; the last one takes everything.
BODY_COMPARATORS: list[BodyComparator] = [
    BodyComparator("json", _is_json, _compare_json),
    BodyComparator("text", _is_text, _compare_text),
    BodyComparator("binary", lambda kind: True, _compare_binary),
]


def _body_step(ctx: _Context) -> bool:
    a, b = ctx.legacy.body or b"", ctx.new.body or b""
    try:
        a = decode_body(a, ctx.legacy.header("content-encoding"))
        b = decode_body(b, ctx.new.header("content-encoding"))
    except UndecodableBody as exc:
        side_a = str(exc) if ctx.legacy.header("content-encoding") else "decodable"
        ctx.out.append(Difference("$", "type", side_a, str(exc), "$"))
        return True
    if a == b:
        return False
    kind, charset = media_type(ctx.legacy.headers)
    if not kind:
        kind, charset = media_type(ctx.new.headers)
    comparator = next(c for c in BODY_COMPARATORS if c.accepts(kind))
    room = max(ctx.limit - len(ctx.out), 1)
    diffs, truncated = comparator.compare(a, b, charset, ctx.rules, room)
    ctx.out.extend(diffs)
    ctx.truncated = truncated
    return False


#: The comparison pipeline, in order; a step returning True ends it.
STEPS: list[Step] = [_error_step, _status_step, _header_step, _body_step]


def compare(
    legacy: CapturedResponse,
    new: CapturedResponse,
    rules: CompiledRules,
    *,
    limit: int = DEFAULT_LIMIT,
) -> Verdict:
    """Compare two answers; ``legacy`` is the reference (in reverse shadowing: the primary).

    Over-cap bodies (``body is None``) and two failed calls are ``not_compared``.
    """
    if legacy.error is not None and new.error is not None:
        return Verdict.not_compared("both sides failed")
    if legacy.error is None and new.error is None:
        if legacy.body is None or new.body is None:
            return Verdict.not_compared("body over the buffer cap")
        if legacy.status == new.status and legacy.body == new.body:
            # The fast path: equal bytes need nothing but the header comparison.
            headers = compare_headers(legacy.headers, new.headers, rules)
            return Verdict.of(headers) if headers else _MATCH
    ctx = _Context(legacy, new, rules, limit, [])
    for step in STEPS:
        if step(ctx):
            break
    return Verdict.of(ctx.out, truncated=ctx.truncated)
