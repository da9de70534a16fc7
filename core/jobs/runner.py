"""One job's runner process, started by a supervisor (core.jobs.supervisor): runs the job it was given through the
same `Worker.execute` as every other path, as the leader of its own process group.

It watches a pipe whose write end only its supervisor holds: end-of-file means the supervisor is gone (even by
`kill -9`), and the runner then kills its whole group (itself, an extraction pool, its forkserver). SIGTERM from the
supervisor hands the job back to the queue."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from typing import Any

from core.jobs.queue import JobQueue
from core.jobs.tables import RUNNING
from core.jobs.worker import Worker

log = logging.getLogger("core.jobs.runner")


def watch_supervisor(fd: int) -> None:
    """Kill this process group once the supervisor's end of the pipe closes."""

    def watch() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        log.warning("the supervisor is gone: killing this job's processes")
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.jobs.runner")
    parser.add_argument("--job", type=int, required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--watch-fd", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.watch_fd is not None:
        watch_supervisor(args.watch_fd)
    queue = JobQueue()
    worker = Worker(queue, worker_id=args.worker_id)

    def stop(_signum: int, _frame: Any) -> None:
        worker.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the supervisor's terminal: the supervisor decides
    job = queue.get(args.job)
    if job.status != RUNNING or job.worker_id != args.worker_id:
        log.warning("job %s is not this runner's (%s, %s); nothing to do", job.id, job.status, job.worker_id)
        return 0
    worker.execute(job)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
