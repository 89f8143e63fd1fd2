"""Trusted verdicts at the default settings: recall and false alarms as traffic grows.

The noisy pair of ``tests/shadow/noisy_pair.py`` (timestamps, request ids, shuffled lists,
charset and CORS differences everywhere; nine real regressions of every kind) is shadowed
through a real proxy at the default settings with no hand-written rules. After 10, 25, 50,
100 and 200 requests per route the bench reads what the report shows and prints recall
(regressions reported with their field and kind), false alarms (noise shown as a finding)
and legacy calls per request. Target (issue 12): every regression and 0 false alarms by 50
requests per route, legacy called at most twice per request. Exit 1 when missed::

    python -m bench.bench_verdicts
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from tests.shadow.noisy_pair import run_pair

MARKS = [10, 25, 50, 100, 200]


def main() -> int:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        found = run_pair(Path(tmp), MARKS[-1], marks=MARKS)
    rows = []
    print(f"{'per route':>9} {'recall':>7} {'false alarms':>12} {'legacy calls/request':>21}")
    for mark, f in zip(MARKS, found, strict=True):
        alarms = f.false_alarms()
        per = f.legacy_calls / f.requests
        rows.append(
            {
                "per_route": mark,
                "recall": f.recall(),
                "false_alarms": alarms,
                "legacy_per_request": round(per, 3),
            }
        )
        print(f"{mark:>9} {f.recall():>7.2f} {len(alarms):>12} {per:>21.2f}  {alarms or ''}")
    at50 = rows[MARKS.index(50)]
    ok = (
        at50["recall"] == 1.0
        and not at50["false_alarms"]
        and all(r["legacy_per_request"] <= 2 for r in rows)
    )
    print(f"target by 50 per route: {'met' if ok else 'MISSED'}; load average {load:.2f}")
    print(json.dumps({"bench": "verdicts", "rows": rows, "load_average_1m": round(load, 2)}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
