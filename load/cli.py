"""``strangler load``: load tests against legacy, new or the proxy, and the cutover load gate.

Registered through the ``strangler.commands`` entry point; locust itself runs in a child
process (see :mod:`load.run`), never in the CLI's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from load.command import EXIT_GATE_FAILED, build_scenario
from strangler.cli import DEFAULT_CONFIG, ConfigOption, JsonOption

# The command's work is in load.command (imported light): `strangler.commands` loads this
# module for every `strangler` command, and the gate's statistics pull in numpy.

__all__ = ["EXIT_GATE_FAILED", "build_scenario", "load", "register"]


def load(
    config: ConfigOption = DEFAULT_CONFIG,
    target: Annotated[
        str,
        typer.Option(
            "--target", "-t", help="legacy, new, proxy, or both (interleaved in short blocks)"
        ),
    ] = "both",
    users: Annotated[int | None, typer.Option(help="simulated users (config: load.users)")] = None,
    spawn_rate: Annotated[
        float | None, typer.Option(help="users started per second (load.spawn_rate)")
    ] = None,
    duration: Annotated[
        str | None, typer.Option(help="per target, e.g. 60s, 2m (load.duration)")
    ] = None,
    route: Annotated[str | None, typer.Option(help="load this route only")] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="recorded traffic (JSONL) to take the mix from")
    ] = None,
    proxy_url: Annotated[str, typer.Option(help="the proxy's URL for --target proxy")] = (
        "http://127.0.0.1:8000"
    ),
    report_md: Annotated[Path | None, typer.Option(help="write a Markdown report")] = None,
    report_html: Annotated[
        Path | None, typer.Option(help="write a self-contained HTML report with charts")
    ] = None,
    write_locustfile_to: Annotated[
        Path | None,
        typer.Option("--write-locustfile", help="write a standalone locustfile and exit"),
    ] = None,
    as_json: JsonOption = False,
    evidence: Annotated[
        bool, typer.Option(help="store the gate's verdicts for readiness (--target both)")
    ] = True,
    seed: Annotated[int | None, typer.Option(help="seed of the request mix (repeatable)")] = None,
    master: Annotated[
        bool, typer.Option("--master", help="be a locust master; workers send the load")
    ] = False,
    worker: Annotated[
        bool, typer.Option("--worker", help="be a locust worker of a master")
    ] = False,
    expect_workers: Annotated[int, typer.Option(help="workers the master waits for")] = 1,
    master_host: Annotated[str, typer.Option(help="the master a worker connects to")] = (
        "127.0.0.1"
    ),
    master_port: Annotated[int, typer.Option(help="the master's port")] = 5557,
    master_bind_host: Annotated[
        str, typer.Option(help="interface the master listens on (0.0.0.0 for remote workers)")
    ] = "127.0.0.1",
    worker_wait: Annotated[
        float, typer.Option(help="seconds the master waits for its workers")
    ] = 60.0,
) -> int:
    """Run a load test; with --target both, judge new against legacy (the load gate)."""
    from load.command import LoadCommand, run_load_command
    from strangler.config import load_config

    command = LoadCommand(
        target=target,
        users=users,
        spawn_rate=spawn_rate,
        duration=duration,
        route=route,
        corpus=corpus,
        proxy_url=proxy_url,
        report_md=report_md,
        report_html=report_html,
        write_locustfile=write_locustfile_to,
        as_json=as_json,
        evidence=evidence,
        seed=seed,
        master=master,
        worker=worker,
        expect_workers=expect_workers,
        master_host=master_host,
        master_port=master_port,
        master_bind_host=master_bind_host,
        worker_wait=worker_wait,
    )
    return run_load_command(load_config(config), command)


def register(app: typer.Typer) -> None:
    app.command("load")(load)
