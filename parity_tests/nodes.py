"""pytest collection nodes: the corpus file, one collector per route, one item per entry.

Node ids name the route and a short hash of the request, so they are stable across runs
(the same corpus gives the same ids, whatever the order of its lines) and sort by route::

    corpus.jsonl::GET /orgs/{slug}::3f2a1c9d
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from parity_tests.recording import fingerprint
from parity_tests.render import render_failure
from parity_tests.replay import ReplayFailed
from parity_tests.results import EntryResult, RoutePolicy
from shadow.corpus import CorpusEntry

if TYPE_CHECKING:
    from _pytest._code.code import ExceptionInfo, TerminalRepr

    from parity_tests.session import ParityRun

__all__ = ["ParityCorpus", "ParityItem", "ParityMismatch", "ParityRoute"]


class ParityMismatch(Exception):
    """Raised by a parity test whose two answers differ (carries the result)."""

    def __init__(self, result: EntryResult) -> None:
        self.result = result
        super().__init__(f"{result.request.method} {result.target}: answers differ")


class ParityCorpus(pytest.File):
    """The corpus file: its children are the routes it has entries for."""

    def __init__(self, *, run: ParityRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run = run

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        by_route: dict[str, list[tuple[int, CorpusEntry]]] = {}
        for index, entry in enumerate(self.run.entries):
            by_route.setdefault(entry[0].route, []).append((index, entry))
        for route in sorted(by_route):
            yield ParityRoute.from_parent(self, name=route, entries=by_route[route])


class ParityRoute(pytest.Collector):
    """One route: one test item per corpus entry of that route."""

    def __init__(self, *, entries: list[tuple[int, CorpusEntry]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries = entries

    def collect(self) -> Iterator[ParityItem]:
        run: ParityRun = self.parent.run  # type: ignore[union-attr]
        seen: dict[str, int] = {}
        for index, (request, response) in self.entries:
            name = fingerprint(request)[:8]
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name}-{seen[name]}"
            item = ParityItem.from_parent(
                self, name=name, entry=(request, response), index=index, run=run
            )
            skip = run.skip_reason(request, response)
            if skip:
                item.add_marker(pytest.mark.skip(reason=skip))
            yield item


class ParityItem(pytest.Item):
    """Replays one corpus entry on both sides and compares the answers."""

    def __init__(self, *, entry: CorpusEntry, index: int, run: ParityRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entry = entry
        self.index = index  # the entry's position in the corpus (0-based)
        self.run = run
        self.result: EntryResult | None = None

    @property
    def route(self) -> str:
        return self.entry[0].route

    @property
    def policy(self) -> RoutePolicy:
        return self.run.policy(self.route)

    def runtest(self) -> None:
        result = self.run.execute(self)
        self.result = result
        if result.outcome == "mismatch":
            raise ParityMismatch(result)
        if result.outcome == "not_compared":
            pytest.skip(f"not compared: {result.reason}")

    def repr_failure(
        self,
        excinfo: ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | TerminalRepr:
        exc = excinfo.value
        if isinstance(exc, ParityMismatch):
            return render_failure(exc.result, self.policy)
        if isinstance(exc, ReplayFailed):
            request = self.entry[0]
            return (
                f"{request.method} {request.path}: could not replay on {exc.side}: {exc.detail}\n"
                "(is the backend running at the configured address?)"
            )
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        request = self.entry[0]
        target = request.path + (f"?{request.query}" if request.query else "")
        return self.path, self.index, f"{request.method} {target} [{self.route}]"
