"""``strangler flip``, ``strangler routes`` and ``strangler history``.

A thin shell over :mod:`strangler.control`: parse, call, print (rich tables for people,
``--json`` for scripts).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from strangler._modes import CATCH_ALL, MODES
from strangler.cli._options import DEFAULT_CONFIG, ConfigOption, JsonOption, output_console

if TYPE_CHECKING:
    from strangler.config import Config
    from strangler.control import RoutesOverview
    from strangler.store import Flip


def _console() -> Console:
    return output_console()


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%SZ")


def _mode(mode: str, percent: Any) -> str:
    from strangler.control import format_percent

    return f"{mode} {format_percent(percent)}" if mode == "canary" else mode


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def flip(
    route: Annotated[str, typer.Argument(help="the route, e.g. 'GET /orgs/{slug}'")],
    to: Annotated[str, typer.Option("--to", help=f"the new mode: {', '.join(MODES)}")],
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="why (kept in the audit log)")
    ] = None,
    percent: Annotated[
        str | None, typer.Option("--percent", "-p", help="canary share to new, 0-100 by 0.01")
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", help="who flips (default: $STRANGLER_ACTOR or user@host)"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="override the readiness gates (recorded)")
    ] = False,
    config: ConfigOption = DEFAULT_CONFIG,
    as_json: JsonOption = False,
) -> int:
    """Change a route's live mode; every proxy sharing the store serves it within seconds.

    Example: strangler flip "GET /orgs/{slug}" --to canary --percent 5 --reason "first users"
    """
    from strangler.config import load_config
    from strangler.control import flip_route, flip_to_json, open_store, parse_percent

    cfg = load_config(config)
    store = open_store(cfg)
    try:
        done = flip_route(
            cfg, store, route, to, parse_percent(route, percent), reason or "", actor, force
        )
    finally:
        store.close()
    if as_json:
        _print_json(flip_to_json(done))
        return 0
    forced = " [yellow](forced)[/]" if done.forced else ""
    _console().print(
        f"flipped [bold]{done.route}[/]: {_mode(done.from_mode, done.from_percent)} -> "
        f"[bold]{_mode(done.to_mode, done.to_percent)}[/]{forced}\n"
        f"  flip #{done.id} by {done.actor} at {_when(done.at)}: {done.reason}\n"
        f"  running proxies pick it up within ~{cfg.proxy.poll_interval:g} s",
        markup=True,
    )
    return 0


def load_overview(cfg: Config) -> RoutesOverview:
    """The routes' live state; a store without a schema yet has no flips (nothing is created)."""
    from strangler.control import build_overview, routes_overview
    from strangler.store import Store, current_revision

    if current_revision(cfg.store) is None:
        return build_overview(cfg, 0, {}, {})
    store = Store(cfg.store)
    try:
        return routes_overview(cfg, store)
    finally:
        store.close()


def print_routes(console: Console, overview: RoutesOverview) -> None:
    """The routes table people read (``strangler routes`` and ``strangler serve``)."""
    table = Table(title=f"routes (state version {overview.version})", title_justify="left")
    for col in ("route", "mode", "sticky", "last flip", "note"):
        table.add_column(col, overflow="fold")
    for r in overview.routes:
        last = ""
        if r.last_flip:
            f = r.last_flip
            last = f"{_when(f.at)} by {f.actor}: {f.reason}"
        mode = Text(_mode(r.mode, r.percent), style="bold" if r.differs else "")
        note = Text(r.note, style="yellow" if r.differs else "dim")
        if r.held:
            note.append(" (held by automatic rollback)", style="red")
        table.add_row(r.route, mode, r.sticky or "", last, note)
    table.add_row(
        f"{CATCH_ALL} (catch-all)",
        overview.catch_all_mode,
        "",
        "",
        Text("unmatched requests", style="dim"),
    )
    console.print(table)


def routes(config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> int:
    """Every route with its live mode, percent, sticky key and last flip."""
    from strangler.config import load_config

    overview = load_overview(load_config(config))
    if as_json:
        _print_json(overview.to_json())
    else:
        print_routes(_console(), overview)
    return 0


def _flags(f: Flip) -> str:
    return ", ".join(n for n, on in (("forced", f.forced), ("automatic", f.automatic)) if on)


def history(
    route: Annotated[str | None, typer.Option("--route", help="only this route's flips")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="newest N entries")] = 50,
    config: ConfigOption = DEFAULT_CONFIG,
    as_json: JsonOption = False,
) -> int:
    """The flip audit log, newest first: who, when, from, to, percent, why."""
    from strangler.config import canonical_route, load_config
    from strangler.control import flip_to_json
    from strangler.store import Store, current_revision

    cfg = load_config(config)
    key = None
    if route is not None:
        try:  # a route that left the config keeps its history: not checked against it
            key = canonical_route(route)
        except ValueError:
            key = route.strip()
    flips: list[Flip] = []
    if current_revision(cfg.store) is not None:
        store = Store(cfg.store)
        try:
            flips = store.history(key, limit)
        finally:
            store.close()
    if as_json:
        _print_json([flip_to_json(f) for f in flips])
        return 0
    console = _console()
    if not flips:
        console.print(f"no flips recorded{f' for {key}' if key else ''}")
        return 0
    table = Table(title="flip history (newest first)", title_justify="left")
    for col in ("#", "when (UTC)", "route", "who", "from", "to", "reason", ""):
        table.add_column(col, overflow="fold")
    for f in flips:
        table.add_row(
            str(f.id),
            _when(f.at),
            f.route,
            f.actor,
            _mode(f.from_mode, f.from_percent),
            _mode(f.to_mode, f.to_percent),
            f.reason,
            Text(_flags(f), style="yellow"),
        )
    console.print(table)
    return 0


def register(app: typer.Typer) -> None:
    app.command("flip")(flip)
    app.command("routes")(routes)
    app.command("history")(history)
