"""What ``strangler load`` does, as a typed function: the CLI parses, this runs.

``run_load_command(config, LoadCommand(target="both", duration="30s"))`` runs the scenario
against legacy and new interleaved, judges the gate, stores the verdicts as evidence,
writes the reports and returns the exit code (1 when the gate failed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from strangler import ConfigError

if TYPE_CHECKING:
    from load.report import LoadReport
    from load.results import TargetResult
    from load.run import RunSpec
    from load.scenario import Scenario
    from strangler.config import Config, LoadSettings

__all__ = ["EXIT_GATE_FAILED", "LoadCommand", "build_scenario", "run_load_command"]

EXIT_GATE_FAILED = 1


@dataclass(frozen=True, slots=True)
class LoadCommand:
    """The options of one ``strangler load`` run (see ``strangler load --help``)."""

    target: str = "both"
    users: int | None = None
    spawn_rate: float | None = None
    duration: str | None = None
    route: str | None = None
    corpus: Path | None = None
    proxy_url: str = "http://127.0.0.1:8000"
    report_md: Path | None = None
    report_html: Path | None = None
    write_locustfile: Path | None = None
    as_json: bool = False
    evidence: bool = True
    seed: int | None = None
    master: bool = False
    worker: bool = False
    expect_workers: int = 1
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    master_bind_host: str = "127.0.0.1"
    worker_wait: float = 60.0


def run_load_command(cfg: Config, c: LoadCommand) -> int:
    """Run ``c`` with ``cfg``; returns the exit code."""
    from load.run import RunSpec

    settings = _settings(cfg, c.users, c.spawn_rate, c.duration)
    scenario = build_scenario(cfg, c.corpus, c.route)
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if c.master and c.worker:
        raise ConfigError("--master/--worker", "both", "one of them")
    if c.expect_workers < 1:
        raise ConfigError("--expect-workers", c.expect_workers, "at least 1")
    names = ["legacy", "new"] if c.target == "both" else [c.target]
    if c.write_locustfile is not None:
        return _write_locustfile(cfg, c, scenario, settings, names, out, err)
    spec = RunSpec(
        scenario,
        targets=(),
        users=settings.users,
        spawn_rate=settings.spawn_rate,
        duration=settings.duration,
        think_time=settings.think_time,
        request_timeout=settings.request_timeout,
        sample_cap=settings.sample_cap,
        seed=c.seed,
        master_host=c.master_host,
        master_port=c.master_port,
        bind_host=c.master_bind_host,
        expect_workers=c.expect_workers,
        worker_wait=c.worker_wait,
    )
    if c.worker:
        return _work(cfg, spec, out, err)
    return _run_and_report(cfg, c, spec, settings, names, out, err)


def _write_locustfile(
    cfg: Config,
    c: LoadCommand,
    scenario: Scenario,
    settings: LoadSettings,
    names: list[str],
    out: Console,
    err: Console,
) -> int:
    from load.locustfile import write_locustfile
    from load.run import resolve_target

    assert c.write_locustfile is not None
    host = resolve_target(cfg, names[0], proxy_url=c.proxy_url).host if len(names) == 1 else None
    path = write_locustfile(
        c.write_locustfile,
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


def _work(cfg: Config, spec: RunSpec, out: Console, err: Console) -> int:
    from load.run import run_worker, trusted_targets

    sent = run_worker(
        # the master names the target: trust both backends as configured here
        replace(spec, role="worker", trust=trusted_targets(cfg)),
        lambda m: err.print(f"worker connected to master {m}"),
    )
    out.print(f"worker done: {sent} requests sent")
    return 0


def _run_and_report(
    cfg: Config,
    c: LoadCommand,
    spec: RunSpec,
    settings: LoadSettings,
    names: list[str],
    out: Console,
    err: Console,
) -> int:
    from load import results as _results
    from load.evidence import record_gate
    from load.gate import judge
    from load.report import LoadReport
    from load.run import resolve_target

    targets = tuple(resolve_target(cfg, n, proxy_url=c.proxy_url) for n in names)
    spec = replace(spec, targets=targets, role="master" if c.master else "local")
    results = _progress_runner(spec, err)
    warnings = [
        w for r in results for w in _results.generator_warnings(r, settings.generator_capacity)
    ]
    gate = None
    stored = []
    if c.target == "both":
        gate = judge(results[0], results[1], settings)
        if c.evidence:
            run = {"users": settings.users, "scenario": spec.scenario.source, "seed": c.seed}
            stored = record_gate(cfg, gate, results[0], results[1], run=run)
    report = LoadReport(
        spec.scenario,
        tuple(results),
        gate,
        tuple(warnings),
        users=settings.users,
        duration=settings.duration,
    )
    _publish(report, c, [e.id for e in stored], out)
    return EXIT_GATE_FAILED if gate is not None and not gate.passed else 0


def _publish(report: LoadReport, c: LoadCommand, stored: list[int], out: Console) -> None:
    from load.html_report import to_html
    from load.report import print_report, to_markdown

    if c.report_md is not None:
        c.report_md.write_text(to_markdown(report), encoding="utf-8")
    if c.report_html is not None:
        c.report_html.write_text(to_html(report), encoding="utf-8")
    if c.as_json:
        data = report.to_json()
        data["evidence"] = stored
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        print_report(report, out)
        if stored:
            out.print(f"stored {len(stored)} load verdict(s) as evidence for readiness")


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
    from strangler.config import duration_option

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
        seconds = duration_option("--duration", duration)
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
