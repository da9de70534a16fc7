"""`python -m core jobs list|show|cancel`: the job queue from the shell."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="list, show or cancel jobs")
    jsub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    ls = jsub.add_parser("list", help="recent jobs, newest first")
    ls.add_argument("--limit", type=int, default=20)
    ls.set_defaults(func=cmd_jobs_list)
    show = jsub.add_parser("show", help="one job's parameters, progress, error and result")
    show.add_argument("job_id", type=int)
    show.set_defaults(func=cmd_jobs_show)
    cancel = jsub.add_parser("cancel", help="cancel a job (a queued one never starts)")
    cancel.add_argument("job_id", type=int)
    cancel.set_defaults(func=cmd_jobs_cancel)


def cmd_jobs_list(args: argparse.Namespace) -> int:
    from core.jobs import JobQueue

    for job in JobQueue().recent(limit=args.limit):
        progress = f"{job.done}/{job.total}" if job.total else ""
        print(
            f"{job.id:>5} {job.kind:<20} {job.status:<9} {progress:>11} {job.started_by:<24} {job.error or job.message}"
        )
    return 0


def cmd_jobs_show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from core.jobs import JobQueue

    print(json.dumps(asdict(JobQueue().get(args.job_id)), indent=2, default=str))
    return 0


def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    from core.jobs import JobQueue

    job = JobQueue().request_cancel(args.job_id)
    print(f"job {job.id}: {job.status}: {job.message}")
    return 0
