"""`python -m core worker`: supervise the runner processes that run queued jobs (core.jobs.supervisor)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    w = sub.add_parser(
        "worker", help="supervise runner processes that run queued jobs (several may run, on several machines)"
    )
    w.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help="jobs at once (default: this machine's cores), plus one runner kept for short jobs",
    )
    w.add_argument("--once", action="store_true", help="run at most one job, then exit")
    w.add_argument("--poll", type=float, default=2.0, metavar="SECONDS", help="how often to look for a job when idle")
    w.add_argument("--kinds", nargs="+", default=[], metavar="KIND", help="only these job kinds (default: all)")
    w.add_argument(
        "--idle-exit", type=float, default=None, metavar="SECONDS", help="exit when no job came for this long"
    )
    w.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    from core.jobs.supervisor import run_supervisor

    run_supervisor(
        concurrency=args.concurrency, once=args.once, poll_s=args.poll, kinds=args.kinds, idle_exit_s=args.idle_exit
    )
    return 0
