"""Build corpus files: from a recording proxy, from the store, from HAR files.

Typed functions behind ``strangler record`` and ``strangler corpus import-har``; each
returns a :class:`RecordReport` saying what was kept and dropped::

    report = import_har("session.har", "corpus.jsonl", config=load_config("strangler.yaml"))
    report.written, report.per_route      # 42, {"GET /orgs/{slug}": 30, ...}

Every entry is redacted with the config's ``redact`` rules (global plus the route's) by
:class:`shadow.redact.Redactor` before it is de-duplicated or written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from parity_tests.har import read_har
from parity_tests.recording import CorpusSampler, Redactor, route_matcher
from shadow.corpus import CorpusEntry, write_corpus
from shadow.exchange import CapturedRequest, CapturedResponse
from shadow.redact import Redactor as ShadowRedactor
from shadow.rules import Rules, merge_rules
from strangler import ConfigError
from strangler.config import Config

__all__ = ["RecordReport", "corpus_redactor", "import_har", "record_listen", "write_sample"]


@dataclass(frozen=True, slots=True)
class RecordReport:
    """What a recording kept: entries written per route, and what was dropped."""

    out: Path
    written: int
    offered: int
    duplicates: int
    unmatched: int
    per_route: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        routes = ", ".join(f"{r}: {n}" for r, n in sorted(self.per_route.items())) or "none"
        return (
            f"wrote {self.written} entries to {self.out} ({routes}); seen {self.offered}, "
            f"{self.duplicates} duplicate(s), {self.unmatched} unmatched dropped"
        )


def _rules(value: object) -> Rules:
    return value if isinstance(value, Rules) else Rules.model_validate(value or {})


def corpus_redactor(config: Config | None) -> Redactor:
    """Redact an exchange with the shadow engine's redactor and the route's ``redact`` rules."""
    base = _rules(config.rules if config is not None else None)
    per_route: dict[str, ShadowRedactor] = {}
    default = ShadowRedactor(base.redact)

    def redact(request: CapturedRequest, response: CapturedResponse | None) -> CorpusEntry:
        redactor = per_route.get(request.route)
        if redactor is None:
            redactor = default
            if config is not None:
                rc = next((r for r in config.routes if r.key == request.route), None)
                if rc is not None:
                    redactor = ShadowRedactor(merge_rules(base, _rules(rc.rules)).redact)
            per_route[request.route] = redactor
        out = redactor.request(request)
        return out, redactor.response(response) if response is not None else None

    return redact


def _check_per_route(per_route: int) -> None:
    if per_route < 1:
        raise ConfigError("--per-route", per_route, "a number of entries of at least 1")


def write_sample(sampler: CorpusSampler, out: str | Path) -> RecordReport:
    """Write what ``sampler`` kept to ``out`` (JSON Lines)."""
    path = Path(out)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True)
    entries = sampler.entries()
    written = write_corpus(path, entries)
    per_route: dict[str, int] = {}
    for request, _ in entries:
        per_route[request.route] = per_route.get(request.route, 0) + 1
    stats = sampler.stats
    return RecordReport(path, written, stats.offered, stats.duplicates, stats.unmatched, per_route)


def sample(
    entries: Iterable[CorpusEntry],
    config: Config | None,
    *,
    per_route: int = 200,
    seed: int | None = None,
    keep_unmatched: bool = False,
) -> CorpusSampler:
    """Feed ``entries`` through a sampler matching routes with ``config``'s table."""
    _check_per_route(per_route)
    sampler = CorpusSampler(
        route_matcher(config) if config is not None else None,
        per_route=per_route,
        redact=corpus_redactor(config),
        seed=seed,
        keep_unmatched=keep_unmatched or config is None,
    )
    for request, response in entries:
        sampler.offer(request, response)
    return sampler


def import_har(
    har: str | Path,
    out: str | Path,
    *,
    config: Config | None = None,
    per_route: int = 200,
    seed: int | None = None,
    keep_unmatched: bool = False,
) -> RecordReport:
    """Convert a HAR file to a corpus (routes from ``config``; without one, all entries are
    kept under the catch-all route ``*``)."""
    sampler = sample(
        read_har(har), config, per_route=per_route, seed=seed, keep_unmatched=keep_unmatched
    )
    return write_sample(sampler, out)


def record_listen(
    config: Config,
    out: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    per_route: int = 200,
    duration: float | None = None,
    max_exchanges: int | None = None,
    seed: int | None = None,
) -> RecordReport:
    """Serve a recording proxy until ``duration``/``max_exchanges``/Ctrl-C, then write."""
    from parity_tests.listen import RecordingProxy, serve_recording

    _check_per_route(per_route)
    sampler = CorpusSampler(
        route_matcher(config), per_route=per_route, redact=corpus_redactor(config), seed=seed
    )
    recorder = RecordingProxy(config, sampler)
    serve_recording(recorder, host, port, duration=duration, max_exchanges=max_exchanges)
    return write_sample(sampler, out)
