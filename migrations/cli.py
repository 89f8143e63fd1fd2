"""``strangler backfill | verify | jobs | throttle``: the data-migration kit's commands.

Added to the ``strangler`` command through the ``strangler.commands`` entry point.
Exit codes: 0 done / clean, 1 differences found or the run failed, 2 bad usage or config.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table as RichTable

from strangler.cli import DEFAULT_CONFIG, ConfigOption, JsonOption

if TYPE_CHECKING:
    from rich.progress import TextColumn

    from strangler.config import Config

    from .backfill import DryRun, Progress
    from .command import BackfillOptions
    from .mapping import Mapping
    from .records import Job

# The kit itself (SQLAlchemy, the store) is imported by each command: `strangler.commands`
# loads this module for every `strangler` command, `--help` included.

__all__ = ["register"]

MappingArg = Annotated[str, typer.Argument(help="the mapping's name in the config's 'mappings'")]


def _rate_column() -> TextColumn:
    from rich.progress import TextColumn

    return TextColumn("{task.fields[rate]:>9} rows/s")


def backfill_cmd(
    mapping: MappingArg,
    config: ConfigOption = DEFAULT_CONFIG,
    dry: Annotated[
        bool, typer.Option("--dry-run", help="transform the first batches, write nothing")
    ] = False,
    batch: Annotated[
        int | None, typer.Option("--batch", min=1, help="fixed batch size (default: adaptive)")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option("--rate", min=0, help="at most this many rows/s (0 lifts the throttle)"),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="parallel workers claiming key ranges")
    ] = 1,
    since_column: Annotated[
        str | None,
        typer.Option("--since-column", help="catch up rows changed since the last watermark"),
    ] = None,
) -> int:
    """Copy a mapping's legacy rows into the new table (resumes an interrupted run)."""
    from strangler.config import load_config

    from .command import BackfillOptions, dry_run_backfill

    console = Console()
    cfg = load_config(config)
    if dry:
        _print_dry_run(console, *dry_run_backfill(cfg, mapping, batch=batch or 100))
        return 0
    options = BackfillOptions(batch=batch, rate=rate, workers=workers, since_column=since_column)
    job = _backfill_with_bar(console, cfg, mapping, options)
    console.print(
        f"job {job.id} {job.state}: {job.copied} legacy rows copied, {job.written} written, "
        f"{job.skipped} skipped"
    )
    return 0 if job.state == "done" else 1


def _print_dry_run(console: Console, m: Mapping, result: DryRun) -> None:
    table = RichTable(title=f"dry run of {m.name}: first rows, nothing written")
    table.add_column("legacy key")
    table.add_column(f"→ {m.target.name}")
    for key, rows in result.sample:
        shown = "\n".join(json.dumps(r, default=str) for r in rows) or "(skipped)"
        table.add_row(", ".join(map(str, key)), shown)
    console.print(table)
    console.print(
        f"would write {result.new_rows} rows from {result.legacy_rows} legacy rows "
        f"({result.skipped} skipped by the transform)"
    )


def _backfill_with_bar(console: Console, cfg: Config, name: str, options: BackfillOptions) -> Job:
    """Run the backfill with a progress bar (rows, rows/s, ETA); returns the job."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bar

    from .command import run_backfill

    bar = Bar(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _rate_column(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    task = bar.add_task(name, total=None, rate="-")
    seen: dict[str, Any] = {}

    def started(job: Job, resumed: bool) -> None:
        what = f"resuming job {job.id} at {job.copied} rows" if resumed else f"job {job.id}"
        console.print(f"{what} ({job.kind}, {job.total} rows to copy)")
        seen["start_copied"] = job.copied
        # the mapping's own name, as the job log knows it
        total = max(job.total, job.copied)
        bar.update(task, description=job.mapping, total=total, completed=job.copied)
        bar.start()  # only now: a mapping or database that fails to open draws no bar

    def progressed(p: Progress) -> None:
        elapsed = bar.tasks[task].elapsed or 0.0
        done = p.copied - int(seen.get("start_copied", 0))
        speed = f"{done / elapsed:,.0f}" if elapsed > 0 else "-"
        bar.update(task, completed=p.copied, total=max(p.total, p.copied), rate=speed)

    try:
        return run_backfill(cfg, name, options, on_start=started, on_progress=progressed)
    finally:
        bar.stop()


def verify_cmd(
    mapping: MappingArg,
    config: ConfigOption = DEFAULT_CONFIG,
    sample: Annotated[
        int | None, typer.Option("--sample", min=1, help="check about N rows in random ranges")
    ] = None,
    repair: Annotated[
        bool,
        typer.Option("--repair", help="re-copy the differing keys and delete extra rows"),
    ] = False,
    as_json: JsonOption = False,
) -> int:
    """Prove the new table matches the mapped legacy rows; list what does not."""
    from strangler.config import load_config

    from .command import open_mapping
    from .verify import verify

    console = Console()
    with open_mapping(load_config(config), mapping) as (m, dbs, store):
        result = verify(m, dbs, store, sample=sample, repair=repair)
    if as_json:
        typer.echo(json.dumps(result.as_json()))
        return 0 if result.clean else 1
    data = result.as_json(limit=20)
    console.print(
        f"{m.name}: legacy {result.legacy_rows} rows, new {result.new_rows} rows, "
        f"{result.ranges} ranges checked in {result.seconds:.2f} s"
        + (f" (sample of ~{sample} rows)" if sample else "")
    )
    for what in ("missing", "extra"):
        for key in data[what]:
            console.print(f"  {what:9} {key}")
    for d in data["different"]:
        cells = ", ".join(
            f"{c}: {v['expected']!r} → {v['found']!r}" for c, v in d["columns"].items()
        )
        console.print(f"  different {d['key']}  {cells}")
    counts = data["counts"]
    if result.repaired:
        console.print("repaired: the differing keys were copied again, extra rows deleted")
    if result.clean:
        console.print("[green]clean[/]: nothing missing, extra or different")
        return 0
    console.print(
        f"[red]not clean[/]: {counts['missing']} missing, {counts['extra']} extra, "
        f"{counts['different']} different (rerun with --repair to fix)"
    )
    return 1


def jobs_cmd(config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> int:
    """List backfill jobs and their states, newest first."""
    from strangler.config import load_config
    from strangler.store import Store

    from .records import JobLog

    cfg = load_config(config)
    store = Store(cfg.store)
    try:
        store.ensure_schema()
        jobs = JobLog(store).jobs()
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([j.as_json() for j in jobs]))
        return 0
    table = RichTable(title="backfill jobs")
    for col in ("id", "mapping", "kind", "state", "copied / total", "batch", "rate", "heartbeat"):
        table.add_column(col)
    for j in jobs:
        table.add_row(
            str(j.id),
            j.mapping,
            j.kind,
            j.state + (f" ({j.error[:60]})" if j.error else ""),
            f"{j.copied} / {j.total}",
            str(j.batch_size),
            f"{j.rate:g}" if j.rate else "-",
            f"{j.heartbeat:%Y-%m-%d %H:%M:%S}",
        )
    Console().print(table)
    return 0


def throttle_cmd(
    mapping: MappingArg,
    rate: Annotated[float, typer.Argument(min=0, help="rows/s; 0 lifts the throttle")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> int:
    """Change the throttle of a running backfill (applies from its next batch)."""
    from strangler.config import load_config
    from strangler.store import Store

    from .records import JobLog

    cfg = load_config(config)
    store = Store(cfg.store)
    try:
        store.ensure_schema()
        job = JobLog(store).set_rate(mapping, rate or None)
    finally:
        store.close()
    if job is None:
        Console(stderr=True).print(f"no running backfill of {mapping!r}")
        return 1
    typer.echo(f"job {job.id}: rate {'unlimited' if not job.rate else f'{job.rate:g} rows/s'}")
    return 0


def register(app: typer.Typer) -> None:
    """Add the kit's commands to the ``strangler`` app (``strangler.commands`` entry point)."""
    app.command("backfill")(backfill_cmd)
    app.command("verify")(verify_cmd)
    app.command("jobs")(jobs_cmd)
    app.command("throttle")(throttle_cmd)
