"""`python -m core worker` and `python -m core jobs list|show|cancel`: the workers that run queued jobs."""

from __future__ import annotations

import argparse
import contextvars
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.jobs.contract import JobKind, P, R


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


def cmd_worker(args: argparse.Namespace) -> int:
    from core.jobs.supervisor import run_supervisor

    run_supervisor(
        concurrency=args.concurrency, once=args.once, poll_s=args.poll, kinds=args.kinds, idle_exit_s=args.idle_exit
    )
    return 0


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


def add_submit_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--submit", action="store_true", help="queue it for the workers (python -m core worker) and print the job id"
    )


def run_job(args: argparse.Namespace, kind: JobKind[P, R], params: P, *, unit: str, threaded: bool = False) -> R | None:
    """The CLI's two paths for a job kind: with `--submit`, queue it and print its id (returns None); else run the
    same job code here with a tqdm bar and return its result. `threaded` runs it in a thread so that Ctrl-C
    becomes a cancel (training then still saves the best epoch); otherwise Ctrl-C interrupts, and finished work is
    kept by the resumable kinds."""
    import threading

    from tqdm import tqdm

    from core.jobs.contract import JobContext
    from core.jobs.queue import JobQueue
    from core.jobs.worker import run_inline

    if getattr(args, "submit", False):
        job_id = JobQueue().submit(kind.name, params)
        print(f"queued job {job_id} ({kind.title}); follow it with: python -m core jobs show {job_id}")
        return None
    tqdm.monitor_interval = 0  # no monitor thread: a single-threaded CLI may fork extraction workers directly
    bar = tqdm(desc=kind.title, unit=unit, mininterval=0.5)

    def show(done: int, total: int, message: str = "", /) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(message[:80], refresh=False)
        bar.refresh()

    try:
        if not threaded:
            return run_inline(kind, params, show)
        ctx = JobContext(on_progress=show)
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = run_inline(kind, params, context=ctx)
            except BaseException as exc:  # re-raised in the main thread below
                box["error"] = exc

        # A new thread starts with empty context variables: run it in a copy of ours, as the operator.
        thread = threading.Thread(
            target=contextvars.copy_context().run, args=(target,), daemon=True, name=f"cli-{kind.name}"
        )
        thread.start()
        while thread.is_alive():
            try:
                thread.join(0.2)
            except KeyboardInterrupt:
                print("\nstopping after the current step; finished work is kept")
                ctx.cancel.set()
        if "error" in box:
            raise box["error"]
        result: R = box["value"]
        return result
    finally:
        bar.close()
