"""A corpus from the exchanges the shadow recorder stored (``strangler record --from-store``).

The shadow recorder keeps a capped sample of exchanges in ``shadow_exchanges`` (every
mismatch up to a cap per route and field, and a sample of matches), already redacted.
Each stored row gives the request and legacy's answer (the primary, or the candidate when
the route was shadowed in reverse). Rows whose request body was not stored whole (over
the buffer cap, binary, or cut) are dropped: they cannot be replayed faithfully; a
response body that was not stored whole is left out (the entry keeps its request).

::

    report = record_from_store(config, "corpus.jsonl", per_route=200, since=3600)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from parity_tests.record import RecordReport, sample, write_sample
from shadow.corpus import CorpusEntry
from shadow.exchange import CapturedRequest, CapturedResponse
from strangler import StoreError
from strangler.config import Config
from strangler.store import SampledExchange, Store, exchanges_from

__all__ = ["record_from_store", "stored_exchanges"]

# How the recorder marks a body it did not keep whole.
_NOT_WHOLE = re.compile(r"^\[(not kept: |binary body: )|… \[cut: \d+ more characters\]$")
_BATCH = 500


def _whole(text: str) -> bool:
    return _NOT_WHOLE.search(text) is None


def _headers(items: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k).lower(), str(v)) for k, v in items or ())


def _entry(row: SampledExchange) -> CorpusEntry | None:
    if not _whole(row.request_body):
        return None
    request = CapturedRequest(
        method=row.method,
        path=row.path,
        query=row.query,
        headers=_headers(row.request_headers),
        body=row.request_body.encode("utf-8"),
        route=row.route,
    )
    if row.primary_side == "legacy":
        status, headers, body = row.primary_status, row.primary_headers, row.primary_body
    elif row.candidate_side == "legacy" and row.candidate_status is not None:
        status, headers, body = row.candidate_status, row.candidate_headers, row.candidate_body
    else:
        return request, None
    if not _whole(body):
        return request, None
    return request, CapturedResponse(status, _headers(headers), body.encode("utf-8"))


def stored_exchanges(store: Store, *, since: float | None = None) -> Iterator[CorpusEntry]:
    """The stored exchanges that can be replayed, oldest first (``since``: seconds back)."""
    start = datetime.now(UTC) - timedelta(seconds=since) if since is not None else None
    for row in exchanges_from(store, start, batch=_BATCH):
        entry = _entry(row)
        if entry is not None:
            yield entry


def record_from_store(
    config: Config,
    out: str | Path,
    *,
    per_route: int = 200,
    since: float | None = None,
    seed: int | None = None,
) -> RecordReport:
    """Sample the store's recorded exchanges into a corpus (routes matched again with the
    config's current table; redacted once more with its rules)."""
    store = Store(config.store)
    try:
        try:
            entries = list(stored_exchanges(store, since=since))
        except StoreError as exc:
            raise StoreError(
                store.safe_url,
                f"cannot read recorded exchanges ({exc.detail}); "
                "run `strangler db upgrade` and serve shadow traffic first",
            ) from exc
    finally:
        store.close()
    return write_sample(sample(entries, config, per_route=per_route, seed=seed), out)
