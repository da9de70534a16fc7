"""How a CLI command runs a job kind: queued for the workers with `--submit`, else here through the same
`Worker.execute` as a worker, with a tqdm bar (core.jobs.worker.run_inline)."""

from __future__ import annotations

import argparse
import contextvars
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.jobs.contract import JobKind, P, R


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
