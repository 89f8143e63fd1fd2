"""Render a :class:`~strangler.report.build.ShadowReport` as a table, Markdown, JSON or HTML.

Renderers form a registry by format name (:data:`RENDERERS`). The HTML page is
self-contained (inline CSS, no script) and every value is escaped by jinja2's autoescape.

    text = render(report, "md")
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson
from rich.console import Console
from rich.table import Table

from strangler._errors import ConfigError

if TYPE_CHECKING:
    import jinja2

    from strangler.report.build import Example, RouteReport, ShadowReport
    from strangler.report.diffview import DiffView

__all__ = ["FORMATS", "RENDERERS", "render", "report_to_json"]


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _counts(values: dict[str, int]) -> str:
    shown = [f"{k}: {v}" for k, v in sorted(values.items()) if v]
    return ", ".join(shown) if shown else "-"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def report_to_json(report: ShadowReport) -> dict[str, Any]:
    """The report as plain JSON-ready data."""
    data = asdict(report)
    for route, r in zip(data["routes"], report.routes, strict=True):
        route["match_rate"] = r.match_rate
        route["mismatched"] = r.mismatched
        route["rules"] = r.rules  # the suggestions as one block to paste under `rules:`
    return data


def _json(report: ShadowReport) -> str:
    raw = orjson.dumps(report_to_json(report), default=_jsonable, option=orjson.OPT_INDENT_2)
    return raw.decode() + "\n"


def _summary_row(r: RouteReport) -> list[str]:
    lat = r.latency
    return [
        r.route,
        str(r.requests),
        str(r.compared),
        _pct(r.matched + r.noise, r.compared),
        str(r.noise),
        _counts(r.mismatches) + (f" ({r.unconfirmed} unconfirmed)" if r.unconfirmed else ""),
        _counts(r.not_compared),
        _counts(r.dropped),
        f"{_ms(lat['legacy'].p50)} / {_ms(lat['legacy'].p99)}",
        f"{_ms(lat['new'].p50)} / {_ms(lat['new'].p99)}",
    ]


_HEAD = [
    "route",
    "requests",
    "compared",
    "match rate",
    "noise",
    "mismatches",
    "not compared",
    "dropped",
    "legacy p50/p99",
    "new p50/p99",
]


def _table(report: ShadowReport) -> str:
    out = io.StringIO()
    console = Console(file=out, width=160, highlight=False, soft_wrap=False, color_system=None)
    console.print(f"Shadow report since {report.since:%Y-%m-%d %H:%M}Z ({report.store})")
    if not report.routes:
        console.print("no shadow traffic recorded in this window")
        return out.getvalue()
    table = Table(*_HEAD)
    table.columns[0].overflow = "fold"  # a route name wraps, never loses its end
    for r in report.routes:
        table.add_row(*_summary_row(r))
    console.print(table)
    for r in report.routes:
        if r.fields:
            fields = Table(
                "field", "severity", "mismatches", "noise", "learned", "example", title=r.route
            )
            fields.columns[0].overflow = "fold"
            for f in r.fields:
                ex = f.example
                shown = "-"
                if ex is not None:
                    d = next((d for d in ex.differences if d.get("field") == f.field), None)
                    got = f"{d.get('legacy')!r} -> {d.get('new')!r}" if d else ""
                    shown = f"{ex.method} {ex.path} {got}"[:80]
                fields.add_row(
                    f.field, f.severity or "-", str(f.mismatches), str(f.noise), f.status, shown
                )
            console.print(fields)
        if r.hidden:
            console.print(f"{r.hidden} more differing fields of {r.route} (--all shows them)")
        if r.suggestions:
            console.print(f"suggested rules for {r.route} (pure noise; paste under its entry):")
            console.print(suggested_yaml(r), markup=False, highlight=False)
    return out.getvalue()


def suggested_yaml(r: RouteReport) -> str:
    """The route's suggested rules as one YAML ``rules:`` block (valid for ``check``)."""
    import yaml

    return yaml.safe_dump({"rules": r.rules}, sort_keys=False, default_flow_style=None, width=100)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md(report: ShadowReport) -> str:
    lines = [
        f"# Shadow report since {report.since:%Y-%m-%d %H:%M}Z",
        "",
        f"Store: `{report.store}`",
        "",
    ]
    if not report.routes:
        return "\n".join([*lines, "No shadow traffic recorded in this window.", ""])
    lines += ["| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
    lines += ["| " + " | ".join(_md_cell(c) for c in _summary_row(r)) + " |" for r in report.routes]
    for r in report.routes:
        lines += ["", f"## {_md_cell(r.route)}", ""]
        if r.fields:
            lines += [
                "| field | severity | mismatches | noise | learned |",
                "|---|---|---|---|---|",
            ]
            for f in r.fields:
                lines.append(
                    f"| `{_md_cell(f.field)}` | {f.severity or '-'} | {f.mismatches} | {f.noise} | {f.status} |"
                )
            for f in r.fields:
                ex = f.example
                if ex is None:
                    continue
                lines += [
                    "",
                    f"### `{_md_cell(f.field)}`: example",
                    "",
                    f"`{ex.method} {ex.path}{'?' + ex.query if ex.query else ''}`",
                    "",
                    f"{ex.primary_side} ({ex.primary_status}):",
                    "```",
                    ex.primary_body[:2000],
                    "```",
                    f"{ex.candidate_side} ({ex.candidate_status}):",
                    "```",
                    (ex.candidate_body or ex.candidate_error)[:2000],
                    "```",
                ]
                lines += [f"- {line}" for line in ex.explanation]
        else:
            lines.append("No differing fields.")
        if r.suggestions:
            lines += [
                "",
                "Suggested rules (pure noise; add them yourself, nothing is applied):",
                "",
            ]
            lines += ["```yaml", suggested_yaml(r).rstrip(), "```"]
    return "\n".join([*lines, ""])


@cache
def _environment() -> jinja2.Environment:
    """The HTML templates (jinja2 is imported here: only ``--format html`` needs it)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("strangler.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ms"] = _ms
    env.filters["pct"] = _pct
    env.filters["counts"] = _counts
    env.filters["suggested_yaml"] = suggested_yaml
    env.globals["example_view"] = example_view
    return env


def example_view(example: Example, field: str) -> DiffView:
    """An example's two answers side by side, legacy first, ``field``'s places marked."""
    from strangler.report.diffview import side_by_side  # HTML only: the CLI starts light

    paths = [str(d.get("path", "")) for d in example.differences if d.get("field") == field]
    primary = (example.primary_side, example.primary_status, example.primary_body)
    candidate = (
        example.candidate_side,
        example.candidate_status,
        example.candidate_body or f"(no answer: {example.candidate_error})",
    )
    first, second = (
        (primary, candidate) if example.primary_side == "legacy" else (candidate, primary)
    )
    return side_by_side(first, second, paths)


def _html(report: ShadowReport) -> str:
    return _environment().get_template("report.html.j2").render(report=report)


RENDERERS: dict[str, Callable[[ShadowReport], str]] = {
    "table": _table,
    "md": _md,
    "json": _json,
    "html": _html,
}
FORMATS = tuple(RENDERERS)


def render(report: ShadowReport, fmt: str) -> str:
    """The report in ``fmt`` (``table``, ``md``, ``json`` or ``html``)."""
    renderer = RENDERERS.get(fmt)
    if renderer is None:
        raise ConfigError("--format", fmt, f"one of {', '.join(FORMATS)}")
    return renderer(report)
