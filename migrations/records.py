"""The kit's records in the store: backfill jobs, their chunks, verification verdicts.

The job log is the store's (:class:`strangler.store.JobLog`); the kit names it here.
"""

from __future__ import annotations

from strangler.store import Chunk, Job, JobLog, VerificationRecord, worker_id

__all__ = ["Chunk", "Job", "JobLog", "VerificationRecord", "worker_id"]
