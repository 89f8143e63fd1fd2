"""One parity run: the corpus, the backends, the rules and route policies, the results.

The plugin registers a :class:`ParityRun` with pytest only when ``--parity-corpus`` is
given; it then adds the corpus's tests at collection, replays them (a bounded pre-fetch
window ahead of the test being run), compares with the shadow engine, turns mismatches on
routes that do not gate into reported (xfail) outcomes, and at the end writes the reports
and the store's evidence.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from parity_tests.nodes import ParityCorpus, ParityItem, ParityMismatch
from parity_tests.recording import route_matcher
from parity_tests.render import render_failure
from parity_tests.replay import Replayed, ReplayFailed, ReplayPlan, ReplayPool
from parity_tests.results import EntryResult, RoutePolicy, RouteSummary, policy_for, summarise
from shadow.compare import compare
from shadow.corpus import CorpusEntry, read_corpus
from shadow.exchange import CapturedRequest, CapturedResponse
from shadow.noise import RouteNoise, Suggestion, classify
from shadow.redact import Redactor
from shadow.rules import CompiledRules, Rules, compile_rules, merge_rules
from strangler import ConfigError, StranglerError
from strangler.backends import Backend, build_backend
from strangler.config import SAFE_METHODS, BackendConfig, Config, Timeouts, load_config

__all__ = ["ParityOptions", "ParityRun"]

UNSAFE_HINT = "set --parity-sandbox URL (or new_sandbox in the config) to replay writes"


@dataclass(frozen=True, slots=True)
class ParityOptions:
    """The plugin's command-line options, validated."""

    corpus: Path
    legacy: str | None = None
    new: str | None = None
    sandbox: str | None = None
    config: Path | None = None
    strict: bool = False
    report_md: Path | None = None
    report_html: Path | None = None
    concurrency: int = 8
    noise: bool = True
    store: bool = True

    @classmethod
    def from_pytest(cls, config: pytest.Config) -> ParityOptions:
        def opt(name: str) -> Any:
            return config.getoption(name)

        def path(name: str) -> Path | None:
            value = opt(name)
            return Path(value) if value else None

        return cls(
            corpus=Path(opt("parity_corpus")),
            legacy=opt("parity_legacy"),
            new=opt("parity_new"),
            sandbox=opt("parity_sandbox"),
            config=path("parity_config"),
            strict=bool(opt("parity_strict")),
            report_md=path("parity_report_md"),
            report_html=path("parity_report_html"),
            concurrency=int(opt("parity_concurrency")),
            noise=not opt("parity_no_noise"),
            store=not opt("parity_no_store"),
        )


def _backend_config(url: str, option: str, configured: BackendConfig | None) -> BackendConfig:
    """The side at ``url``; what the config says about reaching that side (timeouts, pool,
    TLS trust for an https:// URL) still holds when only the address moves."""
    try:
        given = BackendConfig(target=url)
    except ValueError:
        raise pytest.UsageError(
            f"{option} {url!r}: expected an http(s):// URL or an in-process app 'module:attr'"
        ) from None
    if configured is None or not (given.is_remote and configured.is_remote):
        return given
    tls = configured.tls if given.target.startswith("https://") else None
    return configured.model_copy(update={"target": given.target, "tls": tls})


def _as_rules(value: Any) -> Rules:
    return value if isinstance(value, Rules) else Rules.model_validate(value or {})


class ParityRun:
    """The state of one parity run (a pytest plugin object; see the module docstring)."""

    def __init__(self, options: ParityOptions) -> None:
        self.options = options
        if options.concurrency < 1:
            raise pytest.UsageError("--parity-concurrency must be at least 1")
        if not options.corpus.is_file():
            raise pytest.UsageError(f"--parity-corpus {options.corpus}: no such file")
        self.config: Config | None = None
        if options.config is not None:
            try:
                self.config = load_config(options.config)
            except ConfigError as exc:
                raise pytest.UsageError(f"--parity-config: {exc}") from None
        self.backend_configs = self._backend_configs()
        self.entries = self._read_entries()
        self.notes: list[str] = []
        self._policies = self._route_policies()
        self._rules: dict[str, CompiledRules] = {}
        self._noise: dict[str, RouteNoise] = {}
        self._redactors: dict[str, Redactor] = {}
        self._pool: ReplayPool | None = None
        self._queue: list[ParityItem] = []
        self._position: dict[str, int] = {}
        self._futures: dict[str, concurrent.futures.Future[Replayed]] = {}
        self._submitted = 0
        self.results: list[EntryResult] = []
        self.summaries: list[RouteSummary] = []
        self.written: list[str] = []

    # -- setup ------------------------------------------------------------------------

    def _backend_configs(self) -> dict[str, BackendConfig]:
        o, cfg = self.options, self.config
        out: dict[str, BackendConfig] = {}
        if cfg is not None:
            out = {"legacy": cfg.legacy, "new": cfg.new}
            if cfg.new_sandbox is not None:
                out["new_sandbox"] = cfg.new_sandbox
        for side, url, option in (
            ("legacy", o.legacy, "--parity-legacy"),
            ("new", o.new, "--parity-new"),
            ("new_sandbox", o.sandbox, "--parity-sandbox"),
        ):
            if url:
                out[side] = _backend_config(url, option, out.get(side))
        missing = [s for s in ("legacy", "new") if s not in out]
        if missing:
            raise pytest.UsageError(
                "parity tests need both sides: give --parity-legacy URL and --parity-new URL, "
                "or --parity-config strangler.yaml"
            )
        return out

    def _read_entries(self) -> list[CorpusEntry]:
        matcher = route_matcher(self.config) if self.config is not None else None
        entries = []
        try:
            for request, response in read_corpus(self.options.corpus):
                route = matcher(request.method, request.path) if matcher else None
                route = route or request.route or "*"
                entries.append((replace(request, route=route), response))
        except ValueError as exc:
            raise pytest.UsageError(f"--parity-corpus: {exc}") from None
        except OSError as exc:
            raise pytest.UsageError(f"--parity-corpus {self.options.corpus}: {exc}") from None
        return entries

    def _route_policies(self) -> dict[str, RoutePolicy]:
        cfg, strict = self.config, self.options.strict
        if cfg is None:
            return {}
        live: Mapping[str, Any] = {}
        if self.options.store:
            live = self._live_states(cfg)
        out = {}
        for rc in cfg.routes:
            state = live.get(rc.key)
            mode, origin = (state.mode, "live") if state is not None else (rc.mode, "config")
            out[rc.key] = policy_for(mode, gating=rc.gating, strict=strict, origin=origin)
        return out

    def _live_states(self, cfg: Config) -> Mapping[str, Any]:
        from strangler.store import Store

        store = None
        try:
            store = Store(cfg.store)
            store.ensure_schema()  # results are written there at the end anyway
            return store.live_states()
        except StranglerError as exc:
            self.notes.append(f"live modes not read ({exc}); using the config's modes")
            return {}
        finally:
            if store is not None:
                store.close()

    def policy(self, route: str) -> RoutePolicy:
        found = self._policies.get(route)
        if found is not None:
            return found
        if self.config is None:
            return policy_for(None)
        # Not in the config: served by the catch-all, i.e. legacy.
        return policy_for(
            "legacy", strict=self.options.strict, origin="not in the config, catch-all"
        )

    def rules(self, route: str) -> CompiledRules:
        found = self._rules.get(route)
        if found is None:
            base = _as_rules(self.config.rules if self.config else None)
            route_rules = Rules()
            if self.config is not None:
                rc = next((r for r in self.config.routes if r.key == route), None)
                if rc is not None:
                    route_rules = _as_rules(rc.rules)
            found = self._rules[route] = compile_rules(merge_rules(base, route_rules))
        return found

    # -- pytest hooks -----------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        path = self.options.corpus.resolve()
        try:
            nodeid = str(path.relative_to(config.rootpath).as_posix())
        except ValueError:
            nodeid = path.name  # outside the rootdir: the file name keeps ids stable
        corpus = ParityCorpus.from_parent(session, path=path, nodeid=nodeid, run=self)
        items.extend(session.genitems(corpus))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._queue = [
            item
            for item in session.items
            if isinstance(item, ParityItem) and item.get_closest_marker("skip") is None
        ]
        self._position = {item.nodeid: i for i, item in enumerate(self._queue)}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report: pytest.TestReport = yield
        if isinstance(item, ParityItem):
            if report.when == "setup" and report.skipped:
                self._record_skip(item, report)
            if (
                report.when == "call"
                and report.failed
                and call.excinfo is not None
                and isinstance(call.excinfo.value, ParityMismatch)
                and not item.policy.gates
            ):
                report.outcome = "skipped"
                report.wasxfail = (
                    f"parity mismatch reported, not failing: route {item.route}, "
                    f"{item.policy.why}; --parity-strict fails it"
                )
        return report

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.close()
        policies = {r.route: self.policy(r.route) for r in self.results}
        self.summaries = summarise(self.results, policies)
        from parity_tests.publish import publish

        publish(self, interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from parity_tests.publish import terminal_summary

        terminal_summary(self, terminalreporter)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.close()

    # -- running ----------------------------------------------------------------------

    def skip_reason(self, request: CapturedRequest, recorded: CapturedResponse | None) -> str:
        """Why this entry is not replayed ("" when it is)."""
        if request.method in SAFE_METHODS:
            return ""
        if "new_sandbox" not in self.backend_configs:
            return f"{request.method} is not safe to replay: not sent; {UNSAFE_HINT}"
        if recorded is None:
            return (
                f"{request.method} has no recorded legacy answer to compare the sandbox's "
                "with (writes are never replayed on legacy)"
            )
        return ""

    def _plan(self, item: ParityItem) -> ReplayPlan:
        request = item.entry[0]
        timeouts = None
        if self.config is not None:
            rc = next((r for r in self.config.routes if r.key == item.route), None)
            timeouts = rc.timeouts if rc is not None else None
        if request.method not in SAFE_METHODS:
            return ReplayPlan(request, ("new_sandbox",), noise=False, timeouts=timeouts)
        return ReplayPlan(request, ("legacy", "new"), noise=self.options.noise, timeouts=timeouts)

    def _ensure_pool(self) -> ReplayPool:
        if self._pool is None:
            backends: dict[str, Backend] = {}
            for side, bc in self.backend_configs.items():
                try:
                    backends[side] = build_backend(side, bc, file=self._source())
                except ConfigError as exc:
                    raise pytest.UsageError(f"parity backend {side}: {exc}") from None
            timeouts: dict[str, Timeouts] = {
                s: bc.timeouts for s, bc in self.backend_configs.items()
            }
            self._pool = ReplayPool(
                backends, concurrency=self.options.concurrency, timeouts=timeouts
            )
        return self._pool

    def _source(self) -> str | None:
        return self.config.source if self.config is not None else None

    def _future(self, item: ParityItem) -> concurrent.futures.Future[Replayed]:
        pool = self._ensure_pool()
        index = self._position.get(item.nodeid)
        if index is None:  # not in the queue (e.g. run by a plugin out of order)
            return pool.submit(self._plan(item))
        window = index + 2 * self.options.concurrency
        self._submitted = max(self._submitted, index)
        while self._submitted <= min(window, len(self._queue) - 1):
            ahead = self._queue[self._submitted]
            if ahead.nodeid not in self._futures:
                self._futures[ahead.nodeid] = pool.submit(self._plan(ahead))
            self._submitted += 1
        return self._futures.pop(item.nodeid)

    def execute(self, item: ParityItem) -> EntryResult:
        """Replay and compare one entry; records and returns the result."""
        request, recorded = item.entry
        plan = self._plan(item)
        try:
            replayed = self._future(item).result()
        except ReplayFailed as exc:
            self.results.append(
                EntryResult(item.nodeid, item.route, request, "error", reason=str(exc))
            )
            raise
        rules = self.rules(item.route)
        if plan.sides == ("new_sandbox",):
            assert recorded is not None
            legacy, new, source = recorded, replayed.answers["new_sandbox"], "recorded"
        else:
            legacy, new, source = replayed.answers["legacy"], replayed.answers["new"], "replayed"
        verdict = compare(legacy, new, rules)
        second = compare(legacy, replayed.second, rules) if replayed.second is not None else None
        verdict = classify(verdict, second, self.noise(item.route))
        redactor = self.redactor(item.route)
        keep = verdict.outcome in ("mismatch", "noise")
        if verdict.differences or verdict.noise:
            verdict = replace(
                verdict,
                differences=tuple(redactor.difference(d) for d in verdict.differences),
                noise=tuple(redactor.difference(d) for d in verdict.noise),
            )
        result = EntryResult(
            nodeid=item.nodeid,
            route=item.route,
            request=request,
            outcome=verdict.outcome,
            verdict=verdict,
            legacy=redactor.response(legacy) if keep else None,
            new=redactor.response(new) if keep else None,
            reason=verdict.reason,
            legacy_source="recorded" if source == "recorded" else "replayed",
            new_side=plan.sides[-1],
        )
        self.results.append(result)
        return result

    def noise(self, route: str) -> RouteNoise:
        """The route's noise statistics (legacy vs legacy, legacy vs new) in this run."""
        found = self._noise.get(route)
        if found is None:
            found = self._noise[route] = RouteNoise()
        return found

    def suggestions(self) -> dict[str, tuple[Suggestion, ...]]:
        """Per route, the rules the noise statistics propose for pure-noise fields."""
        out = {}
        for route, stats in self._noise.items():
            ignored = self.rules(route).rules.ignore
            found = tuple(stats.suggestions(ignored))
            if found:
                out[route] = found
        return out

    def redactor(self, route: str) -> Redactor:
        found = self._redactors.get(route)
        if found is None:
            found = self._redactors[route] = Redactor(self.rules(route).rules.redact)
        return found

    def _record_skip(self, item: ParityItem, report: pytest.TestReport) -> None:
        reason = ""
        if isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        self.results.append(
            EntryResult(item.nodeid, item.route, item.entry[0], "skipped", reason=reason)
        )

    def render(self, result: EntryResult) -> str:
        return render_failure(result, self.policy(result.route))

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
