"""Several worker processes serving as one proxy (``strangler serve --workers N``).

Each worker writes its own counters to a private run directory; the worker holding the
run's lock leads: it serves the admin side with the sum of every worker's counters and
runs the rollback monitor on that sum. Without a run directory (one process, or the
in-process ``create_app``) none of this runs.
"""

from __future__ import annotations

from strangler.workers._files import RETIRED_NAME, SNAPSHOT_SUFFIX
from strangler.workers._leader import LOCK_NAME, Leadership
from strangler.workers._merge import Share, merge_families, requests_in
from strangler.workers._share import WorkerInfo, WorkerMetrics, this_worker

__all__ = [
    "LOCK_NAME",
    "RETIRED_NAME",
    "SNAPSHOT_SUFFIX",
    "Leadership",
    "Share",
    "WorkerInfo",
    "WorkerMetrics",
    "merge_families",
    "requests_in",
    "this_worker",
]
