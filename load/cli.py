"""``strangler load``: load tests against legacy, new or the proxy, and the cutover load gate.

Registered through the ``strangler.commands`` entry point; locust itself runs in a child
process (see :mod:`load.run`), never in the CLI's.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from strangler import ConfigError
from strangler.cli import DEFAULT_CONFIG, ConfigOption, JsonOption

if TYPE_CHECKING:
    from load.results import TargetResult
    from load.run import RunSpec
    from load.scenario import Scenario
    from strangler.config import Config, LoadSettings

# Everything else is imported by the command itself: `strangler.commands` loads this module
# for every `strangler` command, and the gate's statistics pull in numpy.

__all__ = ["build_scenario", "load", "register"]

EXIT_GATE_FAILED = 1


def build_scenario(
    config: Config, corpus: Path | None = None, route: str | None = None
) -> Scenario:
    """The scenario from a corpus file or the route table, optionally one route only."""
    from load.scenario import from_corpus, from_routes
    from shadow.corpus import read_corpus

    if corpus is not None:
        try:
            scenario = from_corpus(read_corpus(corpus), config, name=str(corpus))
        except FileNotFoundError:
            raise ConfigError("--corpus", str(corpus), "an existing corpus file") from None
        except ValueError as exc:
            raise ConfigError("--corpus", str(corpus), f"a JSONL corpus ({exc})") from None
    else:
        scenario = from_routes(config)
    if route is not None:
        config.route(route)  # RouteError naming the known routes
        scenario = scenario.only(route)
    return scenario


def _settings(
    config: Config, users: int | None, spawn_rate: float | None, duration: str | None
) -> LoadSettings:
    from strangler.config import parse_duration

    update: dict[str, object] = {}
    if users is not None:
        if users < 1:
            raise ConfigError("--users", users, "at least 1")
        update["users"] = users
    if spawn_rate is not None:
        if spawn_rate <= 0:
            raise ConfigError("--spawn-rate", spawn_rate, "a positive number of users per second")
        update["spawn_rate"] = spawn_rate
    if duration is not None:
        try:
            seconds = parse_duration(duration)
        except ValueError as exc:
            raise ConfigError("--duration", duration, str(exc)) from None
        if seconds <= 0:
            raise ConfigError("--duration", duration, "a positive duration")
        update["duration"] = seconds
    return config.load.model_copy(update=update)


def _progress_runner(spec: RunSpec, console: Console) -> list[TargetResult]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from load import results as _results
    from load.run import WorkerWait, run_load

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        transient=False,
    ) as bar:
        tasks = {
            t.name: bar.add_task(f"{t.name:<7}", total=spec.duration, info="", start=False)
            for t in spec.targets
        }

        def on_event(event: _results.Progress | WorkerWait) -> None:
            if isinstance(event, WorkerWait):
                first = tasks[spec.targets[0].name]
                bar.update(first, info=f"waiting for workers {event.connected}/{event.expect}")
                return
            task = tasks[event.target]
            bar.start_task(task)
            bar.update(
                task,
                completed=min(event.elapsed, event.duration),
                info=f"{event.users} users  {event.requests} req  {event.rps:.0f} req/s  "
                f"{event.failures} failed",
            )

        return run_load(spec, on_event)


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
    from load import results as _results
    from load.evidence import record_gate
    from load.gate import judge
    from load.html_report import to_html
    from load.locustfile import write_locustfile
    from load.report import LoadReport, print_report, to_markdown
    from load.run import RunSpec, resolve_target, run_worker, trusted_targets
    from strangler.config import load_config

    cfg = load_config(config)
    settings = _settings(cfg, users, spawn_rate, duration)
    scenario = build_scenario(cfg, corpus, route)
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if master and worker:
        raise ConfigError("--master/--worker", "both", "one of them")
    if expect_workers < 1:
        raise ConfigError("--expect-workers", expect_workers, "at least 1")

    names = ["legacy", "new"] if target == "both" else [target]
    if write_locustfile_to is not None:
        host = resolve_target(cfg, names[0], proxy_url=proxy_url).host if len(names) == 1 else None
        path = write_locustfile(
            write_locustfile_to,
            scenario,
            host=host,
            think_time=settings.think_time,
            request_timeout=settings.request_timeout,
        )
        out.print(f"wrote {path} ({len(scenario.routes)} routes): locust -f {path} --host URL")
        tls = {"legacy": cfg.legacy.tls, "new": cfg.new.tls}.get(names[0])
        if len(names) == 1 and tls is not None:
            err.print(
                f"note: the locustfile does not carry {names[0]}.tls: plain locust checks no "
                "certificate and shows none (give ScenarioUser an ssl_context_factory)"
            )
        return 0

    spec = RunSpec(
        scenario,
        targets=(),
        users=settings.users,
        spawn_rate=settings.spawn_rate,
        duration=settings.duration,
        think_time=settings.think_time,
        request_timeout=settings.request_timeout,
        sample_cap=settings.sample_cap,
        seed=seed,
        master_host=master_host,
        master_port=master_port,
        bind_host=master_bind_host,
        expect_workers=expect_workers,
        worker_wait=worker_wait,
    )
    if worker:
        sent = run_worker(
            # the master names the target: trust both backends as configured here
            replace(spec, role="worker", trust=trusted_targets(cfg)),
            lambda m: err.print(f"worker connected to master {m}"),
        )
        out.print(f"worker done: {sent} requests sent")
        return 0

    targets = tuple(resolve_target(cfg, n, proxy_url=proxy_url) for n in names)
    spec = replace(spec, targets=targets, role="master" if master else "local")
    results = _progress_runner(spec, err)
    warnings = [
        w for r in results for w in _results.generator_warnings(r, settings.generator_capacity)
    ]
    gate = None
    stored = []
    if target == "both":
        gate = judge(results[0], results[1], settings)
        if evidence:
            run = {"users": settings.users, "scenario": scenario.source, "seed": seed}
            stored = record_gate(cfg, gate, results[0], results[1], run=run)
    report = LoadReport(
        scenario,
        tuple(results),
        gate,
        tuple(warnings),
        users=settings.users,
        duration=settings.duration,
    )
    if report_md is not None:
        report_md.write_text(to_markdown(report), encoding="utf-8")
    if report_html is not None:
        report_html.write_text(to_html(report), encoding="utf-8")
    if as_json:
        data = report.to_json()
        data["evidence"] = [e.id for e in stored]
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        print_report(report, out)
        if stored:
            out.print(f"stored {len(stored)} load verdict(s) as evidence for readiness")
    return EXIT_GATE_FAILED if gate is not None and not gate.passed else 0


def register(app: typer.Typer) -> None:
    app.command("load")(load)
