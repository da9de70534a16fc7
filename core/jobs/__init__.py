"""One job system for all long work: jobs are database rows, run by worker processes (`python -m core worker`).

`core.jobs.contract` is what a job kind declares (Params, Result, JobContext); the kinds live beside their domain and
`core.jobs.catalog` lists them. `JobQueue` submits, lists and cancels jobs; `core.jobs.worker` executes a job (the
one path: runners, the CLI inline, a page's thread); `core.jobs.supervisor` is the supervised pool of runner
processes (`core.jobs.runner`); `core.jobs.local` starts a supervisor for the dashboard when none is alive.

The names below load on first use: a kind importing `core.jobs.contract` must not pull in the queue (and through it
the catalogue, which imports that very kind).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.jobs.catalog import all_kinds, get_kind
    from core.jobs.job import Job
    from core.jobs.queue import JobQueue
    from core.jobs.tables import CANCELLED, DONE, FAILED, QUEUED, RUNNING

_WHERE = {
    "Job": "core.jobs.job",
    "JobQueue": "core.jobs.queue",
    "all_kinds": "core.jobs.catalog",
    "get_kind": "core.jobs.catalog",
    "CANCELLED": "core.jobs.tables",
    "DONE": "core.jobs.tables",
    "FAILED": "core.jobs.tables",
    "QUEUED": "core.jobs.tables",
    "RUNNING": "core.jobs.tables",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'core.jobs' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


__all__ = ["CANCELLED", "DONE", "FAILED", "QUEUED", "RUNNING", "Job", "JobQueue", "all_kinds", "get_kind"]
