"""One job system for all long work: jobs are database rows, run by worker processes (`python -m core worker`).

`JobQueue` submits, lists and cancels jobs; `core.jobs.kinds` holds what each kind runs (and its lane, short or
long); `core.jobs.worker` executes a job (the one path: runners, the CLI inline, a page's thread);
`core.jobs.supervisor` is the supervised pool of runner processes (`core.jobs.runner`); `core.jobs.local` starts a
supervisor for the dashboard when none is alive.
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
