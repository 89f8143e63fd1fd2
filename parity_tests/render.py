"""Readable text for a parity failure: one line per differing field, not a dump.

::

    GET /orgs/acme  (route GET /orgs/{slug}, mode canary (config))
    mismatch, severity schema: 2 differences
      severity  kind     path             legacy           new
      schema    missing  $.plan           "pro"            (absent)
      value     value    $.members[0].id  7                "7"
    legacy: 200 application/json, 312 B, 4.2 ms   new: 200 application/json, 298 B, 3.9 ms
"""

from __future__ import annotations

from typing import Any

import orjson

from parity_tests.results import EntryResult, RoutePolicy
from shadow.exchange import CapturedResponse
from shadow.verdict import Difference

__all__ = ["describe_response", "format_value", "render_differences", "render_failure"]

_ABSENT = "(absent)"
_WIDTH = 48


def format_value(value: Any, *, missing: bool = False, width: int = _WIDTH) -> str:
    """A compact one-line JSON rendering, shortened to ``width`` characters."""
    if missing:
        return _ABSENT
    try:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _side_missing(d: Difference, side: str) -> bool:
    return (d.kind == "missing" and side == "new") or (d.kind == "added" and side == "legacy")


def render_differences(differences: tuple[Difference, ...], *, limit: int = 20) -> list[str]:
    """Aligned rows: severity, kind, path, legacy value, new value."""
    rows = [("severity", "kind", "path", "legacy", "new")]
    for d in sorted(differences, key=lambda d: -d.severity)[:limit]:
        rows.append(
            (
                d.severity.label,
                d.kind,
                d.path,
                format_value(d.legacy, missing=_side_missing(d, "legacy")),
                format_value(d.new, missing=_side_missing(d, "new")),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:4])) + "  " + r[4]
        for r in rows
    ]
    if len(differences) > limit:
        lines.append(f"  … and {len(differences) - limit} more")
    return [line.rstrip() for line in lines]


def describe_response(resp: CapturedResponse | None) -> str:
    """``200 application/json, 312 B, 4.2 ms`` (or the error)."""
    if resp is None:
        return "no answer"
    if resp.error:
        return f"failed ({resp.error}, {resp.elapsed_ms:.1f} ms)"
    ctype = (resp.header("content-type") or "-").split(";")[0]
    size = len(resp.body) if resp.body is not None else 0
    return f"{resp.status} {ctype}, {size} B, {resp.elapsed_ms:.1f} ms"


def render_failure(result: EntryResult, policy: RoutePolicy) -> str:
    """The text pytest shows for a mismatching exchange."""
    verdict = result.verdict
    head = f"{result.request.method} {result.target}  (route {result.route}, {policy.why})"
    lines = [head]
    if verdict is not None:
        severity = verdict.severity.label if verdict.severity else "none"
        count = len(verdict.differences)
        noise = f", {len(verdict.noise)} noisy field(s) ignored" if verdict.noise else ""
        lines.append(
            f"{verdict.outcome}, severity {severity}: {count} difference"
            f"{'s' if count != 1 else ''}{noise}"
        )
        lines.extend(render_differences(verdict.differences))
        if verdict.truncated:
            lines.append("  (the comparison stopped at its limit of differences)")
    legacy_label = "legacy (recorded)" if result.legacy_source == "recorded" else "legacy"
    lines.append(
        f"{legacy_label}: {describe_response(result.legacy)}   "
        f"{result.new_side}: {describe_response(result.new)}"
    )
    return "\n".join(lines)
