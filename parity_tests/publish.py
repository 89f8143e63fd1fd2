"""Where a parity run's results go: report files, the store's evidence, the terminal.

Evidence is one row per route (kind ``parity``) with the route's counts, pass rate and top
fields, written only when a config (hence a store) is given and the run was not
interrupted; readiness reads the newest row per route.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from parity_tests.report import ReportContext, render_html, render_markdown
from parity_tests.results import RouteSummary
from strangler import StranglerError

if TYPE_CHECKING:
    from parity_tests.session import ParityRun

__all__ = ["evidence_summary", "publish", "terminal_summary"]

_SHOWN_PER_ROUTE = 3


def _context(run: ParityRun) -> ReportContext:
    cfgs = run.backend_configs
    return ReportContext(
        corpus=str(run.options.corpus),
        legacy=cfgs["legacy"].target,
        new=cfgs["new"].target,
        notes=tuple(run.notes),
        suggestions=run.suggestions(),
    )


def evidence_summary(summary: RouteSummary, corpus: str, in_corpus: int) -> dict[str, Any]:
    """The JSON stored with a route's parity evidence."""
    out = summary.to_json()
    out["corpus"] = corpus
    out["in_corpus"] = in_corpus
    out["complete"] = summary.total >= in_corpus
    return out


def publish(run: ParityRun, *, interrupted: bool = False) -> None:
    """Write the report files and, with a config, the store's evidence."""
    ctx = _context(run)
    summaries = run.summaries
    o = run.options
    for path, render in ((o.report_md, render_markdown), (o.report_html, render_html)):
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(summaries, ctx), encoding="utf-8")
            run.written.append(f"report {path}")
        except OSError as exc:
            run.notes.append(f"could not write {path}: {exc.strerror or exc}")
    if run.config is None or not o.store or interrupted:
        return
    _write_evidence(run, summaries)


def _write_evidence(run: ParityRun, summaries: list[RouteSummary]) -> None:
    from strangler.store import Store

    assert run.config is not None
    in_corpus: dict[str, int] = {}
    for request, _ in run.entries:
        in_corpus[request.route] = in_corpus.get(request.route, 0) + 1
    corpus = Path(run.options.corpus).name
    store = None
    try:
        store = Store(run.config.store)
        store.ensure_schema()
        count = 0
        for s in summaries:
            if not s.compared:
                continue
            store.record_evidence(
                "parity",
                route=s.route,
                passed=not s.failed,
                summary=evidence_summary(s, corpus, in_corpus.get(s.route, s.total)),
                subject=corpus,
            )
            count += 1
        run.written.append(f"evidence for {count} route(s) in the store {store.safe_url}")
    except StranglerError as exc:
        run.notes.append(f"results not written to the store: {exc}")
    finally:
        if store is not None:
            store.close()


def terminal_summary(run: ParityRun, reporter: Any) -> None:
    """The ``strangler parity`` section at the end of pytest's output."""
    summaries = run.summaries
    if not summaries and not run.notes:
        return
    reporter.write_sep("=", "strangler parity")
    header = ("route", "mode", "gates", "pass rate", "match", "noise", "mismatch", "error", "skip")
    rows = [header]
    for s in summaries:
        rate = f"{s.pass_rate:.0%}" if s.pass_rate is not None else "n/a"
        rows.append(
            (
                s.route,
                s.policy.mode or "-",
                "yes" if s.policy.gates else "no",
                f"{rate} ({s.matched + s.noise}/{s.compared})",
                str(s.matched),
                str(s.noise),
                str(s.mismatched),
                str(s.errors),
                str(s.skipped + s.not_compared),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        reporter.write_line("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    failing = [s.route for s in summaries if s.fails_build]
    if failing:
        reporter.write_line(f"fails the build: {', '.join(failing)}", red=True, bold=True)
    reported = [s for s in summaries if s.mismatched and not s.policy.gates]
    if reported:
        reporter.write_sep("-", "differences on routes that do not gate (reported as xfail)")
        for s in reported:
            shown = [e for e in s.entries if e.outcome == "mismatch"][:_SHOWN_PER_ROUTE]
            for e in shown:
                reporter.write_line(run.render(e))
                reporter.write_line("")
            if s.mismatched > len(shown):
                reporter.write_line(f"… {s.mismatched - len(shown)} more on {s.route}")
    for line in run.written:
        reporter.write_line(f"parity: wrote {line}")
    for note in run.notes:
        reporter.write_line(f"parity: {note}", yellow=True)
