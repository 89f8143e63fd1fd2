"""Load reports: the terminal table (rich), Markdown and the JSON document.

The HTML page with plotted latency distributions is in :mod:`load.html_report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from load.gate import GateResult, RouteVerdict
from load.results import RouteResult, TargetResult
from load.scenario import Scenario

__all__ = ["LoadReport", "print_report", "to_markdown"]


@dataclass(frozen=True, slots=True)
class LoadReport:
    """Everything one ``strangler load`` run produced."""

    scenario: Scenario
    results: tuple[TargetResult, ...]
    gate: GateResult | None = None
    warnings: tuple[str, ...] = ()
    users: int = 0
    duration: float = 0.0

    def to_json(self, *, samples: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scenario": {
                "source": self.scenario.source,
                "shares": {k: round(v, 4) for k, v in self.scenario.shares().items()},
                "notes": list(self.scenario.notes),
            },
            "users": self.users,
            "duration": self.duration,
            "targets": [r.to_json(samples=samples) for r in self.results],
            "warnings": list(self.warnings),
        }
        if self.gate is not None:
            out["gate"] = {
                "passed": self.gate.passed,
                "routes": [v.summary() for v in self.gate.verdicts],
            }
        return out


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _statuses(r: RouteResult) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(r.statuses.items())) or "-"


def _target_rows(result: TargetResult) -> list[list[str]]:
    rows = []
    for r in result.routes:
        rows.append(
            [
                r.route,
                str(r.requests),
                f"{r.rps:.1f}",
                f"{r.failure_rate:.2%}",
                _ms(r.p50),
                _ms(r.p95),
                _ms(r.p99),
                _statuses(r),
            ]
        )
    rows.append(
        [
            "total",
            str(result.requests),
            f"{result.rps:.1f}",
            f"{(result.failures / result.requests if result.requests else 0):.2%}",
            "",
            "",
            "",
            "",
        ]
    )
    return rows


_TARGET_HEADERS = ["route", "requests", "req/s", "failed", "p50 ms", "p95 ms", "p99 ms", "statuses"]
_GATE_HEADERS = ["route", "verdict", "failed legacy → new", "p50 ms", "p95 ms", "p"]


def _gate_row(v: RouteVerdict) -> list[str]:
    f = v.figures

    def pair(key: str, fmt: Any = _ms) -> str:
        return f"{fmt(f.get(f'legacy_{key}'))} → {fmt(f.get(f'new_{key}'))}"

    p_value = f.get("p_value")
    return [
        v.route,
        "PASS" if v.passed else "FAIL",
        pair("failure_rate", lambda x: "-" if x is None else f"{x:.2%}"),
        pair("p50"),
        pair("p95"),
        "-" if p_value is None else f"{p_value:.2g}",
    ]


def _why(v: RouteVerdict) -> list[str]:
    return [f"{v.route}: {b}" for b in v.blockers] + [f"{v.route}: note: {n}" for n in v.notes]


def _target_title(result: TargetResult) -> str:
    workers = f", {len(result.workers)} workers" if result.workers else ""
    return (
        f"{result.target} ({result.host}): {result.users} users for {result.seconds:.1f} s"
        f"{workers}, load generator CPU {result.cpu_percent:.0f}%"
    )


def print_report(report: LoadReport, console: Console) -> None:
    """The terminal table: per target and route, then the gate's verdicts."""
    for note in report.scenario.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)
    for result in report.results:
        table = Table(title=_target_title(result), title_justify="left")
        for i, header in enumerate(_TARGET_HEADERS):
            table.add_column(header, justify="left" if i in (0, 7) else "right", overflow="fold")
        for row in _target_rows(result):
            table.add_row(*row)
        console.print(table)
    if report.gate is not None:
        table = Table(title="load gate: new vs legacy", title_justify="left")
        for i, header in enumerate(_GATE_HEADERS):
            table.add_column(header, justify="left" if i < 2 else "right")
        for v in report.gate.verdicts:
            row = _gate_row(v)
            row[1] = "[green]PASS[/]" if v.passed else "[red]FAIL[/]"
            table.add_row(*row)
        console.print(table)
        for v in report.gate.verdicts:
            for line in _why(v):
                colour = "dim" if ": note: " in line else "red"
                console.print(f"[{colour}]{line}[/]", highlight=False)
        verdict = "[green]passed[/]" if report.gate.passed else "[red]failed[/]"
        console.print(f"load gate {verdict}", highlight=False)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(report: LoadReport) -> str:
    """The report as Markdown (for a pull request or a wiki page)."""
    parts = ["# Load test report", ""]
    shares = ", ".join(f"`{k}` {v:.0%}" for k, v in report.scenario.shares().items())
    parts += [f"Scenario from {report.scenario.source}: {shares}.", ""]
    for note in report.scenario.notes:
        parts.append(f"- note: {note}")
    if report.scenario.notes:
        parts.append("")
    for result in report.results:
        parts += [f"## {_target_title(result)}", ""]
        parts += [_md_table(_TARGET_HEADERS, _target_rows(result)), ""]
    if report.gate is not None:
        parts += [f"## Load gate: {'passed' if report.gate.passed else 'FAILED'}", ""]
        parts += [_md_table(_GATE_HEADERS, [_gate_row(v) for v in report.gate.verdicts]), ""]
        why = [line for v in report.gate.verdicts for line in _why(v)]
        parts += [f"- {line}" for line in why] + ([""] if why else [])
    if report.warnings:
        parts += ["## Warnings", ""] + [f"- {w}" for w in report.warnings] + [""]
    return "\n".join(parts)
