"""``strangler record``, ``strangler corpus import-har`` and ``strangler parity``.

Added to the ``strangler`` command through the ``strangler.commands`` entry point::

    strangler record -c strangler.yaml --listen 127.0.0.1:8080 --duration 10m --out corpus.jsonl
    strangler record -c strangler.yaml --from-store --since 1h --out corpus.jsonl
    strangler corpus import-har session.har -c strangler.yaml --out corpus.jsonl
    strangler parity -c strangler.yaml --corpus corpus.jsonl --report-md parity.md
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from strangler import ConfigError
from strangler.cli import DEFAULT_CONFIG, ConfigOption

if TYPE_CHECKING:
    from parity_tests.record import RecordReport

# Recording and replay (the proxy, the shadow engine, the config models) are imported by each
# command: `strangler.commands` loads this module for every `strangler` command.

__all__ = ["register"]

corpus_app = typer.Typer(help="Corpus files for parity tests.", no_args_is_help=True)

OutOption = Annotated[Path, typer.Option("--out", "-o", help="the corpus file to write (JSONL)")]
PerRouteOption = Annotated[
    int, typer.Option("--per-route", help="entries kept per route (uniform sample)")
]
SeedOption = Annotated[
    int | None, typer.Option("--seed", help="seed of the sampling (reproducible corpora)")
]


def _done(report: RecordReport) -> int:
    Console(highlight=False, soft_wrap=True).print(report.describe())
    return 0


def _duration(value: str | None, option: str) -> float | None:
    if value is None:
        return None
    from strangler.config import duration_option

    return duration_option(option, value)


def _listen_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("--listen", value, "HOST:PORT, e.g. 127.0.0.1:8080")
    return host or "127.0.0.1", int(port)


def record(
    out: OutOption,
    config: ConfigOption = DEFAULT_CONFIG,
    per_route: PerRouteOption = 200,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen", help="serve a recording proxy on HOST:PORT (legacy answers clients)"
        ),
    ] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="stop listening after this long ('10m')")
    ] = None,
    max_exchanges: Annotated[
        int | None, typer.Option("--max-exchanges", help="stop listening after N exchanges")
    ] = None,
    from_store: Annotated[
        bool,
        typer.Option("--from-store", help="take the exchanges the shadow recorder stored"),
    ] = False,
    since: Annotated[
        str | None, typer.Option("--since", help="with --from-store: only the last '1h'")
    ] = None,
    seed: SeedOption = None,
) -> int:
    """Record a redacted, de-duplicated corpus, sampled per route."""
    if (listen is None) == (not from_store):
        raise ConfigError(
            "record", "--listen and --from-store" if listen else "neither", "exactly one of them"
        )
    from parity_tests.record import record_listen
    from strangler.config import load_config

    cfg = load_config(config)
    if from_store:
        from parity_tests.from_store import record_from_store

        return _done(
            record_from_store(
                cfg, out, per_route=per_route, since=_duration(since, "--since"), seed=seed
            )
        )
    assert listen is not None
    host, port = _listen_address(listen)
    Console(stderr=True, highlight=False).print(
        f"recording on http://{host}:{port} (legacy answers; Ctrl-C to stop and write {out})"
    )
    report = record_listen(
        cfg,
        out,
        host=host,
        port=port,
        per_route=per_route,
        duration=_duration(duration, "--duration"),
        max_exchanges=max_exchanges,
        seed=seed,
    )
    return _done(report)


@corpus_app.command("import-har")
def import_har_cmd(
    har: Annotated[Path, typer.Argument(help="the HAR file (browser, schemathesis, proxy)")],
    out: OutOption,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="match routes with this config's table"),
    ] = None,
    per_route: PerRouteOption = 200,
    keep_unmatched: Annotated[
        bool, typer.Option("--keep-unmatched", help="keep requests no route matches (as '*')")
    ] = False,
    seed: SeedOption = None,
) -> int:
    """Convert a HAR file into a corpus (redacted, de-duplicated, routes matched)."""
    from parity_tests.record import import_har
    from strangler.config import load_config

    cfg = load_config(config) if config is not None else None
    return _done(
        import_har(
            har, out, config=cfg, per_route=per_route, seed=seed, keep_unmatched=keep_unmatched
        )
    )


def parity(
    corpus: Annotated[Path, typer.Option("--corpus", help="the corpus file to replay")],
    config: ConfigOption = DEFAULT_CONFIG,
    strict: Annotated[bool, typer.Option("--strict", help="every route's mismatch fails")] = False,
    report_md: Annotated[Path | None, typer.Option("--report-md", help="Markdown report")] = None,
    report_html: Annotated[Path | None, typer.Option("--report-html", help="HTML report")] = None,
    junitxml: Annotated[Path | None, typer.Option("--junitxml", help="JUnit XML report")] = None,
    select: Annotated[
        str | None, typer.Option("-k", help="only tests matching this expression")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", help="replays at once")] = 8,
) -> int:
    """Replay a corpus against the config's legacy and new (runs the pytest plugin)."""
    import pytest

    from strangler.config import load_config

    load_config(config)  # a bad config is one clear line here, not a pytest usage error
    args = [
        "--parity-corpus",
        str(corpus),
        "--parity-config",
        str(config),
        "--parity-concurrency",
        str(concurrency),
        "-p",
        "no:cacheprovider",
        # strangler is imported already in this process: pytest cannot rewrite its asserts
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        "-q",
        "-rfE",
    ]
    args += ["--parity-strict"] if strict else []
    args += ["--parity-report-md", str(report_md)] if report_md else []
    args += ["--parity-report-html", str(report_html)] if report_html else []
    args += ["--junitxml", str(junitxml)] if junitxml else []
    args += ["-k", select] if select else []
    # An empty folder as rootdir and test path: only the corpus's tests are collected,
    # whatever test suite or pytest settings the current directory has.
    with tempfile.TemporaryDirectory(prefix="strangler-parity-") as empty:
        ini = Path(empty) / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        code = pytest.main([*args, "-c", str(ini), "--rootdir", empty, empty])
    sys.stdout.flush()
    return int(code)


def register(app: typer.Typer) -> None:
    """Add the parity commands to the ``strangler`` app (``strangler.commands`` entry point)."""
    app.command("record")(record)
    app.command("parity")(parity)
    app.add_typer(corpus_app, name="corpus")
