"""Comparator throughput for 1 KB JSON pairs on one core, side by side in one run.

Cases (targets from issue 3):

- ``byte_equal``: identical bodies, headers differing only by Date/Server (target 200k/s);
- ``normalised_equal``: bodies differing only in an ignored timestamp, a UUID mask and the
  order of an unordered array (target 20k/s);
- ``mismatch_paths``: bodies differing in three fields, the differing paths found
  (target 10k/s);
- ``deepdiff_equal`` / ``deepdiff_mismatch``: deepdiff on two separately parsed documents
  (equal, then differing), for reference (it only explains a sample of mismatches for
  reports). Never the same object twice: deepdiff answers that by identity, in no time.

Rates are per second of CPU time of the measuring thread (one core), so a loaded machine
does not skew them much. Prints one line per case and a JSON line with every figure at
the end::

    python -m bench.bench_compare --seconds 1.0
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from deepdiff import DeepDiff

from shadow.compare import compare
from shadow.exchange import CapturedResponse
from shadow.rules import Rules, compile_rules

TARGETS = {"byte_equal": 200_000, "normalised_equal": 20_000, "mismatch_paths": 10_000}


def _doc(seed: int, *, at: str, tags: list[str], price: float = 9.5) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=seed)),
        "name": "Acme Corporation",
        "updated_at": at,
        "tags": tags,
        "total": price * 3,
        "items": [
            {"sku": f"SKU-{i:04d}", "qty": i, "price": price, "note": "standard shipping"}
            for i in range(12)
        ],
        "owner": {"email": "ops@example.com", "plan": "enterprise", "seats": 42},
    }


def _response(doc: dict[str, Any], date: str) -> CapturedResponse:
    headers = (
        ("content-type", "application/json"),
        ("date", date),
        ("server", "uvicorn"),
        ("content-length", "1024"),
        ("cache-control", "no-store"),
    )
    return CapturedResponse(200, headers, orjson.dumps(doc), 1.0)


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of CPU time of this thread (a busy machine does not skew it)."""
    n, batch = 0, 200
    cpu0 = time.thread_time()
    deadline = time.perf_counter() + seconds
    while True:
        for _ in range(batch):
            fn()
        n += batch
        if time.perf_counter() >= deadline:
            return n / max(time.thread_time() - cpu0, 1e-9)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per case")
    args = parser.parse_args(argv)

    rules = compile_rules(
        Rules.model_validate(
            {
                "ignore": ["$.updated_at"],
                "unordered": ["$.tags"],
                "masks": [{"path": "$.id", "shape": "uuid"}],
                "tolerance": [{"path": "$.items[*].price", "abs": 0.001}],
            }
        )
    )
    base = _doc(1, at="2026-01-01T00:00:00Z", tags=["a", "b", "c"])
    same = _response(base, "Mon, 23 Nov 2026 10:00:00 GMT")
    same_b = _response(base, "Mon, 23 Nov 2026 10:00:01 GMT")
    noisy = _response(
        _doc(2, at="2026-01-01T00:00:07Z", tags=["c", "a", "b"]), "Mon, 23 Nov 2026 10:00:02 GMT"
    )
    wrong_doc = _doc(1, at="2026-01-01T00:00:00Z", tags=["a", "b", "c"])
    wrong_doc["owner"]["plan"] = "free"
    wrong_doc["items"][3]["price"] = 9.75
    del wrong_doc["items"][7]["note"]
    wrong = _response(wrong_doc, "Mon, 23 Nov 2026 10:00:03 GMT")
    size = len(same.body or b"")

    assert compare(same, same_b, rules).outcome == "match"
    assert compare(same, noisy, rules).outcome == "match"
    mismatch = compare(same, wrong, rules)
    assert mismatch.outcome == "mismatch", mismatch
    # Two separately parsed copies: deepdiff short-cuts a pair that is the same object.
    parsed = [orjson.loads(r.body or b"") for r in (same, same_b, wrong)]
    assert parsed[0] is not parsed[1]
    assert parsed[0] == parsed[1]

    cases: dict[str, Callable[[], object]] = {
        "byte_equal": lambda: compare(same, same_b, rules),
        "normalised_equal": lambda: compare(same, noisy, rules),
        "mismatch_paths": lambda: compare(same, wrong, rules),
        "deepdiff_equal": lambda: DeepDiff(parsed[0], parsed[1]),
        "deepdiff_mismatch": lambda: DeepDiff(parsed[0], parsed[2]),
    }
    figures: dict[str, float] = {"body_bytes": float(size)}
    print(f"1 KB JSON pairs (body {size} bytes), {args.seconds:.1f} s per case, one core")
    for name, fn in cases.items():
        seconds = args.seconds if not name.startswith("deepdiff") else min(args.seconds, 0.5)
        rate = _rate(fn, seconds)
        figures[f"{name}_per_s"] = round(rate)
        target = TARGETS.get(name)
        verdict = "" if target is None else ("  ok" if rate >= target else "  BELOW TARGET")
        shown = f" (target {target:,}/s)" if target else ""
        print(f"  {name:<20} {rate:>12,.0f}/s  {1e6 / rate:8.1f} µs{shown}{verdict}")
    print(f"  differing paths: {[d.path for d in mismatch.differences]}")
    print(json.dumps({"bench": "compare", **figures}))
    return figures


if __name__ == "__main__":
    main()
