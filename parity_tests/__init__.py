"""Parity tests: record real traffic, replay it against legacy and new, publish the report.

- a corpus (JSON Lines, :mod:`shadow.corpus`) is recorded by a recording proxy
  (:class:`RecordingProxy`, ``strangler record --listen``), taken from the store
  (``strangler record --from-store``) or imported from HAR files (:func:`import_har`);
  entries are redacted, de-duplicated and sampled per route (:class:`CorpusSampler`);
- the pytest plugin (:mod:`parity_tests.plugin`, entry point ``pytest11``) turns each
  entry into a test that replays it on both sides (:class:`ReplayPool`) and compares the
  answers with the shadow engine;
- :func:`render_markdown` / :func:`render_html` write the reports, and each route's result
  is stored as ``parity`` evidence for readiness.

pytest imports this package in every run (the plugin is registered through an entry
point), so the names below are imported lazily, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strangler import lazy_package as _lazy_package

if TYPE_CHECKING:
    from parity_tests.har import parse_har, read_har
    from parity_tests.listen import RecordingProxy, recording_config
    from parity_tests.record import RecordReport, corpus_redactor, import_har, record_listen
    from parity_tests.recording import CorpusSampler, fingerprint, route_matcher
    from parity_tests.replay import Replayed, ReplayFailed, ReplayPlan, ReplayPool
    from parity_tests.report import ReportContext, render_html, render_markdown
    from parity_tests.results import (
        EntryResult,
        RoutePolicy,
        RouteSummary,
        policy_for,
        summarise,
    )

__all__ = [
    "CorpusSampler",
    "EntryResult",
    "RecordReport",
    "RecordingProxy",
    "ReplayFailed",
    "ReplayPlan",
    "ReplayPool",
    "Replayed",
    "ReportContext",
    "RoutePolicy",
    "RouteSummary",
    "corpus_redactor",
    "fingerprint",
    "import_har",
    "parse_har",
    "policy_for",
    "read_har",
    "record_listen",
    "recording_config",
    "render_html",
    "render_markdown",
    "route_matcher",
    "summarise",
]

_WHERE = {
    "CorpusSampler": "recording",
    "EntryResult": "results",
    "RecordReport": "record",
    "RecordingProxy": "listen",
    "ReplayFailed": "replay",
    "ReplayPlan": "replay",
    "ReplayPool": "replay",
    "Replayed": "replay",
    "ReportContext": "report",
    "RoutePolicy": "results",
    "RouteSummary": "results",
    "corpus_redactor": "record",
    "fingerprint": "recording",
    "import_har": "record",
    "parse_har": "har",
    "policy_for": "results",
    "read_har": "har",
    "record_listen": "record",
    "recording_config": "listen",
    "render_html": "report",
    "render_markdown": "report",
    "route_matcher": "recording",
    "summarise": "results",
}


_exports: dict[str, list[str]] = {}
for _name, _module in _WHERE.items():
    _exports.setdefault(f"parity_tests.{_module}", []).append(_name)
_lazy_package(__name__, _exports)
