"""One job system for all long work: jobs are database rows, run by worker processes (`python -m core worker`).

`JobQueue` submits, lists and cancels jobs; `core.jobs.kinds` holds what each kind runs; `core.jobs.worker` the
worker loop and the CLI's inline runner; `core.jobs.local` starts a worker for the dashboard when none is alive.
"""

from core.jobs.queue import Job, JobNotFound, JobQueue
from core.jobs.registry import JobContext, JobKind, all_kinds, get_kind
from core.jobs.tables import CANCELLED, DONE, FAILED, QUEUED, RUNNING

__all__ = [
    "CANCELLED",
    "DONE",
    "FAILED",
    "QUEUED",
    "RUNNING",
    "Job",
    "JobContext",
    "JobKind",
    "JobNotFound",
    "JobQueue",
    "all_kinds",
    "get_kind",
]
