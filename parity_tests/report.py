"""The parity reports: Markdown (CI step summary, PR comment) and one self-contained HTML file.

Pure functions from the run's :class:`~parity_tests.results.RouteSummary` values to text::

    md = render_markdown(summaries, ReportContext(corpus="corpus.jsonl"))
    html = render_html(summaries, ReportContext(corpus="corpus.jsonl"))

The HTML comes from a jinja2 template shipped with the package, with autoescaping on:
bodies and values from the backends are always escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jinja2
import orjson

from parity_tests.render import format_value
from parity_tests.results import EntryResult, RouteSummary
from shadow.encoding import UndecodableBody, decode_body
from shadow.exchange import CapturedResponse
from shadow.noise import Suggestion
from shadow.verdict import Difference

__all__ = ["ReportContext", "pretty_body", "render_html", "render_markdown"]

_BODY_LIMIT = 20_000


@dataclass(frozen=True, slots=True)
class ReportContext:
    """Where the results came from."""

    corpus: str
    legacy: str = ""
    new: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    notes: tuple[str, ...] = ()
    #: per route, rules proposed for fields that were pure noise in this run
    suggestions: Mapping[str, tuple[Suggestion, ...]] = field(default_factory=dict)


def _percent(summary: RouteSummary) -> str:
    rate = summary.pass_rate
    if rate is None:
        return "n/a"
    return f"{rate:.1%} ({summary.matched + summary.noise}/{summary.compared})"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_code(text: str) -> str:
    text = _md_cell(text).replace("`", "'")
    return f"`{text}`"


def _totals(summaries: list[RouteSummary]) -> tuple[int, int]:
    passed = sum(s.matched + s.noise for s in summaries)
    return passed, sum(s.compared for s in summaries)


def render_markdown(summaries: list[RouteSummary], ctx: ReportContext) -> str:
    """A Markdown summary: headline, per-route table, blockers and top differences."""
    passed, compared = _totals(summaries)
    rate = f" ({passed / compared:.1%})" if compared else ""
    failing = [s for s in summaries if s.fails_build]
    blocking = [s for s in summaries if s.blocks_flip]
    lines = [
        f"# Parity: {passed} of {compared} replayed exchanges match{rate}",
        "",
        f"Corpus {_md_code(ctx.corpus)} · {ctx.at:%Y-%m-%d %H:%M} UTC"
        + (f" · legacy {_md_code(ctx.legacy)} · new {_md_code(ctx.new)}" if ctx.legacy else ""),
        "",
    ]
    if failing:
        names = ", ".join(f"{_md_code(s.route)} ({s.policy.mode or 'no mode'})" for s in failing)
        lines += [f"**Fails the build:** {names}", ""]
    else:
        lines += ["No gating route has a mismatch: the build passes.", ""]
    lines += [
        "| Route | Mode | Gates | Pass rate | Match | Noise | Mismatch | Error | Skipped | Flip |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for s in summaries:
        flip = "blocked" if s.blocks_flip else ("ok" if s.compared else "no evidence")
        lines.append(
            f"| {_md_code(s.route)} | {s.policy.mode or '-'} | {'yes' if s.policy.gates else 'no'}"
            f" | {_percent(s)} | {s.matched} | {s.noise} | {s.mismatched} | {s.errors}"
            f" | {s.skipped + s.not_compared} | {flip} |"
        )
    lines.append("")
    if blocking:
        lines += ["## Routes that would block a flip", ""]
        for s in blocking:
            worst = f", worst severity {s.worst.label}" if s.worst else ""
            lines.append(
                f"- {_md_code(s.route)} ({s.policy.why}): {s.mismatched} mismatch(es), "
                f"{s.errors} error(s){worst}"
            )
        lines.append("")
        lines += ["## Top differences", ""]
        for s in blocking:
            if not s.top_fields:
                continue
            lines += [
                f"### {_md_code(s.route)}",
                "",
                "| Severity | Field | Kind | Count | Legacy (example) | New (example) |",
                "|---|---|---|---:|---|---|",
            ]
            for f in s.top_fields:
                lines.append(
                    f"| {f.severity.label} | {_md_code(f.field)} | {f.kind} | {f.count}"
                    f" | {_md_code(_value(f.example, 'legacy'))}"
                    f" | {_md_code(_value(f.example, 'new'))} |"
                )
            lines.append("")
    suggested = {r: s for r, s in ctx.suggestions.items() if s}
    if suggested:
        lines += [
            "## Suggested rules",
            "",
            "Fields that differed as often between two answers of legacy as against new "
            "(pure noise). Not applied: add them to the route's `rules:` if they are right.",
            "",
        ]
        for route in sorted(suggested):
            lines.append(f"- {_md_code(route)}:")
            lines += [f"  - {_md_code(sug.rule)}" for sug in suggested[route]]
        lines.append("")
    for note in ctx.notes:
        lines.append(f"> {_md_cell(note)}")
    return "\n".join(lines).rstrip() + "\n"


def _value(d: Difference, side: str) -> str:
    missing = (d.kind == "missing" and side == "new") or (d.kind == "added" and side == "legacy")
    return format_value(d.legacy if side == "legacy" else d.new, missing=missing, width=60)


def pretty_body(resp: CapturedResponse | None) -> str:
    """The body as readable text: decoded, JSON indented, shortened; binary described."""
    if resp is None:
        return "(no answer)"
    if resp.error:
        return f"(failed: {resp.error})"
    if resp.body is None:
        return "(body over the buffer cap)"
    try:
        raw = decode_body(resp.body, resp.header("content-encoding"))
    except UndecodableBody:
        raw = resp.body
    try:
        text = orjson.dumps(orjson.loads(raw), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return f"(binary, {len(raw)} bytes)"
    if len(text) > _BODY_LIMIT:
        text = text[:_BODY_LIMIT] + f"\n… ({len(text) - _BODY_LIMIT} more characters)"
    return text


def _entry_view(e: EntryResult) -> dict[str, Any]:
    diffs = e.verdict.differences if e.verdict else ()
    return {
        "id": e.nodeid,
        "request": f"{e.request.method} {e.target}",
        "outcome": e.outcome,
        "reason": e.reason,
        "legacy_label": "legacy (recorded)" if e.legacy_source == "recorded" else "legacy",
        "new_label": e.new_side,
        "legacy_status": e.legacy.status if e.legacy else "-",
        "new_status": e.new.status if e.new else "-",
        "differences": [
            {
                "severity": d.severity.label,
                "kind": d.kind,
                "path": d.path,
                "legacy": _value(d, "legacy"),
                "new": _value(d, "new"),
            }
            for d in sorted(diffs, key=lambda d: -d.severity)
        ],
        "legacy_body": pretty_body(e.legacy),
        "new_body": pretty_body(e.new),
    }


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("parity_tests", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(summaries: list[RouteSummary], ctx: ReportContext, *, per_route: int = 20) -> str:
    """One self-contained HTML page (inline CSS, no scripts) with the diffs side by side."""
    passed, compared = _totals(summaries)
    routes = []
    for s in summaries:
        shown = [e for e in s.entries if e.outcome in ("mismatch", "error")][:per_route]
        routes.append(
            {
                "summary": s,
                "pass_rate": _percent(s),
                "entries": [_entry_view(e) for e in shown],
                "hidden": max(0, s.mismatched + s.errors - len(shown)),
            }
        )
    return _ENV.get_template("parity_report.html.j2").render(
        ctx=ctx,
        routes=routes,
        passed=passed,
        compared=compared,
        failing=[s.route for s in summaries if s.fails_build],
        suggestions={r: s for r, s in sorted(ctx.suggestions.items()) if s},
    )
