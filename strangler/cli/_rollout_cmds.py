"""``strangler ready``, ``strangler status`` and ``strangler kill-switch``.

A thin shell over :mod:`strangler.rollout`: read the store, print a table for people or
``--json`` for scripts.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from strangler.cli._options import DEFAULT_CONFIG, ConfigOption, JsonOption, output_console

if TYPE_CHECKING:
    from strangler.rollout.progress import Progress
    from strangler.rollout.readiness import Readiness


def _console() -> Console:
    return output_console()


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def _share(value: float | None) -> str:
    return "no traffic" if value is None else f"{value * 100:.1f}%"


def ready(
    route: Annotated[
        str | None,
        typer.Option("--route", help="only this route; exit 1 unless its next move is allowed"),
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    as_json: JsonOption = False,
) -> int:
    """Every route's readiness verdict, with each blocker's measured value and threshold.

    Example: strangler ready -c strangler.yaml --route "GET /orgs/{slug}"
    """
    from strangler.config import load_config
    from strangler.control import open_store, readiness_of

    cfg = load_config(config)
    store = open_store(cfg)
    try:
        keys = [cfg.route(route).key] if route is not None else None
        verdicts = readiness_of(cfg, store, keys)
    finally:
        store.close()
    if as_json:
        _print_json([v.to_json() for v in verdicts.values()])
    else:
        _print_ready(_console(), list(verdicts.values()))
    if route is not None and not all(v.ready_for_next for v in verdicts.values()):
        return 1
    return 0


def _print_ready(console: Console, verdicts: list[Readiness]) -> None:
    table = Table(title="readiness for the next flip", title_justify="left")
    for col in ("route", "verdict", "parity", "conditions"):
        table.add_column(col, overflow="fold")
    for v in verdicts:
        verdict = Text(v.headline, style="green" if v.ready_for_next else "red")
        parity = v.stats.parity
        lines = Text()
        if v.mode == "legacy":
            lines.append("the move to shadow is never gated; then, for canary or new:\n")
        for i, c in enumerate(v.conditions):
            if i:
                lines.append("\n")
            lines.append("ok   " if c.passed else "NO   ", style="green" if c.passed else "red")
            lines.append(c.describe())
        table.add_row(v.route, verdict, _share(parity) if parity is not None else "-", lines)
    console.print(table)


def status(config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> int:
    """How much of the migration is done: routes by mode, traffic served by new, blockers.

    Example: strangler status -c strangler.yaml --json
    """
    from strangler.config import load_config
    from strangler.control import migration_progress, open_store

    cfg = load_config(config)
    store = open_store(cfg)
    try:
        progress = migration_progress(cfg, store)
    finally:
        store.close()
    if as_json:
        _print_json(progress.to_json())
    else:
        _print_status(_console(), progress)
    return 0


def _print_status(console: Console, p: Progress) -> None:
    from strangler.control import format_percent

    done = f"{p.done}/{p.total} routes on new" if p.total else "no routes declared"
    console.print(f"[bold]{done}[/]", markup=True)
    console.print(
        "by mode: " + ", ".join(f"{m} {n}" for m, n in p.by_mode.items() if n), markup=False
    )
    console.print(
        f"traffic served by new: last hour {_share(p.share_new_hour)}, "
        f"last day {_share(p.share_new_day)}"
    )
    if p.trend:
        points = ", ".join(f"{t.start:%m-%d %H:%M} {_share(t.share_new)}" for t in p.trend[-7:])
        console.print(f"trend (share served by new, since the first record): {points}")
    if p.forecast is not None:
        console.print(f"forecast: {p.forecast.describe()}")
    if p.kill_switch.engaged:
        console.print(f"[red bold]{p.kill_switch.describe()}[/]", markup=True)
    pending = [r for r in p.routes if r.blockers or r.next_mode not in (None, "retired")]
    if not pending:
        return
    table = Table(title="what is left", title_justify="left")
    for col in ("route", "mode", "next", "blocked by"):
        table.add_column(col, overflow="fold")
    for r in pending:
        mode = f"canary {format_percent(r.percent)}" if r.mode == "canary" else r.mode
        blockers = "\n".join(r.blockers) if r.blockers else "nothing: ready"
        style = "" if r.blockers else "green"
        table.add_row(r.route, mode, r.next_mode or "", Text(blockers, style=style))
    console.print(table)


class SwitchPosition(StrEnum):
    on = "on"
    off = "off"


def kill_switch(
    position: Annotated[SwitchPosition, typer.Argument(help="on: every route to legacy now")],
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="why (kept in the audit log)")
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", help="who (default: $STRANGLER_ACTOR or user@host)"),
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    as_json: JsonOption = False,
) -> int:
    """Send every route to legacy at once (on), or allow forward flips again (off).

    Example: strangler kill-switch on --reason "incident 42: double charges"
    """
    from strangler.config import load_config
    from strangler.control import engage_kill_switch, open_store, release_kill_switch

    cfg = load_config(config)
    store = open_store(cfg)
    try:
        if position is SwitchPosition.on:
            result = engage_kill_switch(cfg, store, reason=reason or "", actor=actor)
        else:
            result = release_kill_switch(store, reason=reason or "", actor=actor)
    finally:
        store.close()
    if as_json:
        _print_json(result.to_json())
        return 0
    console = _console()
    console.print(result.state.describe())
    for f in result.flips:
        console.print(f"  {f.route}: {f.from_mode} -> legacy (flip #{f.id})")
    if position is SwitchPosition.on:
        console.print(f"running proxies follow within ~{cfg.proxy.poll_interval:g} s")
    else:
        console.print("routes stay where they are; flip them forward through the gates")
    return 0


def register(app: typer.Typer) -> None:
    app.command("ready")(ready)
    app.command("status")(status)
    app.command("kill-switch")(kill_switch)
