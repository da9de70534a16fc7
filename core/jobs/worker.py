"""`Worker.execute`: the one code path that runs a job, wherever it runs (a supervisor's runner process, the CLI
inline, a page's thread for a session-only key), and a simple in-process loop over the queue (`Worker.run`).

A job runs as the user who submitted it. A heartbeat thread records its progress every `JOB_HEARTBEAT_S` seconds and
picks up a cancel request. The supervised pool (`python -m core worker`) is core.jobs.supervisor.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from core.auth import LOCAL_USER, OPERATOR, PermissionDenied, Role, User, acting_as
from core.auth.users import lookup
from core.errors import StudioError
from core.jobs.catalog import AnyKind, get_kind
from core.jobs.contract import JobContext, JobKind, P, Params, R
from core.jobs.queue import Job, JobQueue
from core.jobs.tables import CANCELLED, DONE, FAILED, QUEUED
from core.progress import ProgressFn

log = logging.getLogger("core.jobs.worker")

SWEEP_EVERY_S = 600.0  # how often a worker removes staged uploads and job folders that no job needs any more


def _validation_summary(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors()[:5])


def new_worker_id() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    def __init__(self, queue: JobQueue, *, kinds: Sequence[str] = (), worker_id: str | None = None) -> None:
        self.queue = queue
        self.kinds = tuple(kinds)
        self.id = worker_id or new_worker_id()
        self.stopping = threading.Event()  # SIGTERM/SIGINT: finish or hand back the current job, then exit
        self.registered = False  # in job_workers: a worker loop, not one job run inside the dashboard

    def run(self, *, once: bool = False, poll_s: float = 2.0, idle_exit_s: float | None = None) -> int:
        """Run jobs until stopped; with `once`, at most one job; with `idle_exit_s`, until no job came for that
        long. Returns the number of jobs run."""
        for kind in self.kinds:
            get_kind(kind)  # an unknown --kinds name is refused up front
        host = socket.gethostname()
        self.registered = True
        ran = 0
        log.info("worker %s started (kinds: %s)", self.id, ", ".join(self.kinds) or "all")
        swept = float("-inf")
        last_job = time.monotonic()
        try:
            while not self.stopping.is_set():
                self.queue.worker_alive(self.id, host, os.getpid(), self.kinds)
                self.queue.requeue_stale()
                if time.monotonic() - swept > SWEEP_EVERY_S:
                    swept = time.monotonic()
                    self.sweep()
                job = self.queue.claim(self.id, self.kinds)
                if job is not None:
                    self.execute(job)
                    ran += 1
                    last_job = time.monotonic()
                if once:
                    break
                if job is None and idle_exit_s is not None and time.monotonic() - last_job >= idle_exit_s:
                    log.info("worker %s: no job for %.0f s, exiting", self.id, idle_exit_s)
                    break
                if job is None:
                    self.stopping.wait(poll_s)
        finally:
            self.queue.worker_gone(self.id)
            log.info("worker %s stopped after %d job(s)", self.id, ran)
        return ran

    def sweep(self) -> None:
        from core.jobs.sweep import sweep_job_files

        try:
            sweep_job_files(self.queue)
        except Exception:  # tidying must never stop the worker
            log.warning("sweeping staged uploads and job folders failed", exc_info=True)

    def starter(self, job: Job) -> User:
        """Who the job runs as. In team mode, with their role as it is now: a job queued before an admin removed
        or demoted its starter must not run with the old rights (their permission is checked again as it runs)."""
        recorded = User(job.started_by, Role.parse(job.started_role))
        if not self.queue.settings.team_mode or recorded.id in (OPERATOR.id, LOCAL_USER.id):
            return recorded
        current = lookup(self.queue.engine, recorded.id)
        if current is None:
            raise PermissionDenied(f"{recorded.id} started this job but is no longer a user here (removed by an admin)")
        return current

    def _prepare(self, job: Job) -> tuple[AnyKind, Params, User] | None:
        """The job's kind, its validated parameters and who it runs as; None when it cannot run (then it is
        closed as failed, with the reason)."""
        try:
            spec = get_kind(job.kind)
            try:
                params = spec.params.model_validate(job.params)
            except ValidationError as exc:
                raise StudioError(
                    f"the parameters of this {spec.title.lower()} job are no longer valid (the code changed since it "
                    f"was queued): {_validation_summary(exc)}. Submit it again."
                ) from None
            return spec, params, self.starter(job)
        except StudioError as exc:  # an unknown kind too
            log.warning("job %s: %s", job.id, exc)
            self.queue.finish(job.id, self.id, FAILED, message="failed", error=str(exc))
            return None

    def _heartbeat(self, job: Job, ctx: JobContext, lost: threading.Event) -> tuple[threading.Thread, threading.Event]:
        """A started thread that records the job's progress every beat and stops it when it is cancelled, no longer
        this worker's (`lost`), or the worker shuts down; set the returned event to end it."""
        beat_stop = threading.Event()

        def beat() -> None:
            host = socket.gethostname()
            while not beat_stop.wait(self.queue.settings.job_heartbeat_s):
                try:
                    stop = self.queue.heartbeat(job.id, self.id, ctx.done, ctx.total, ctx.message)
                    if self.registered:
                        self.queue.worker_alive(self.id, host, os.getpid(), self.kinds)
                except Exception:  # a database hiccup: try again next beat
                    log.warning("job %s: heartbeat failed", job.id, exc_info=True)
                    continue
                if stop:
                    if self.queue.get(job.id).worker_id != self.id:
                        lost.set()
                    ctx.cancel.set()
                if self.stopping.is_set():
                    ctx.handing_back.set()
                    ctx.cancel.set()

        beater = threading.Thread(target=beat, name=f"job-{job.id}-heartbeat", daemon=True)
        beater.start()
        return beater, beat_stop

    def execute(self, job: Job, *, secrets: dict[str, str] | None = None, context: JobContext | None = None) -> None:
        """Run one claimed job to a final state; nothing it raises escapes (the worker goes on with the next).
        `secrets` reach the job's code in memory only (a page's session key), never the database; `context` is the
        caller's (the CLI's progress bar and its Ctrl-C cancel)."""
        prepared = self._prepare(job)
        if prepared is None:
            return
        spec, params, user = prepared
        ctx = context or JobContext()  # the process's settings, read now (a page's thread may outlive a change)
        ctx.job_id, ctx.attempt, ctx.secrets = job.id, job.attempts, dict(secrets or {})
        # A requeued job says so while it runs and once it is done (job.message holds why it was requeued).
        # The reason stays in the message to the end: the page says when and why a worker died.
        why = job.message.removeprefix("requeued: ").split("; the next worker")[0]
        resumed = f"resumed after a requeue (attempt {job.attempts}; {why}): " if job.attempts > 1 else ""
        ctx.message = resumed
        lost = threading.Event()
        beater, beat_stop = self._heartbeat(job, ctx, lost)
        log.info("job %s (%s) started for %s (attempt %d)", job.id, job.kind, job.started_by, job.attempts)
        result: dict[str, Any] | None = None
        error = ""
        try:
            with acting_as(user):
                result = spec.run(params, ctx).model_dump(mode="json")
        except StudioError as exc:  # a message meant for the user
            error = str(exc)
        except Exception as exc:
            log.exception("job %s (%s) failed", job.id, job.kind)
            error = f"unexpected error ({type(exc).__name__}: {exc}); the worker's log has the details"
        except KeyboardInterrupt:  # Ctrl-C in the CLI running it inline: the job ends cancelled, then the CLI stops
            self.queue.finish(job.id, self.id, CANCELLED, message=f"interrupted at {ctx.done}/{ctx.total}")
            raise
        finally:
            beat_stop.set()
            beater.join()
        if lost.is_set():
            log.warning("job %s: no longer this worker's (requeued after a stall); its result is dropped", job.id)
            return
        if self._close(job, ctx, resumed, result, error) and spec.on_finish is not None:
            try:
                spec.on_finish(params, ctx)
            except Exception:
                log.warning("job %s: tidying up after it failed", job.id, exc_info=True)
        log.info("job %s finished", job.id)

    def _close(self, job: Job, ctx: JobContext, resumed: str, result: dict[str, Any] | None, error: str) -> bool:
        """Record the job's final state; False when it went back to the queue (the worker is shutting down)."""
        if error:
            self.queue.finish(job.id, self.id, FAILED, message="failed", error=error, done=ctx.done, total=ctx.total)
        elif ctx.cancelled() and self.stopping.is_set() and not self.queue.get(job.id).cancel_requested:
            # The worker is shutting down, nobody cancelled: hand the job back for another worker to resume.
            self.queue.release(job.id, self.id, f"requeued: worker {self.id} shut down at {ctx.done}/{ctx.total}")
            return False
        elif ctx.cancelled():
            self.queue.finish(
                job.id,
                self.id,
                CANCELLED,
                message=f"cancelled at {ctx.done}/{ctx.total}; the finished work is kept",
                result=result,
                done=ctx.done,
                total=ctx.total,
            )
        else:
            self.queue.finish(
                job.id,
                self.id,
                DONE,
                message=(ctx.message if ctx.message.startswith(resumed) else resumed + ctx.message) or "done",
                result=result or {},
                done=ctx.done,
                total=ctx.total,
            )
        return True


def start_here(
    queue: JobQueue, kind: str, params: Params | dict[str, Any], *, where: str = "inline"
) -> tuple[Worker, Job]:
    """Queue a job already claimed by a worker of this process, to execute here (`Worker.execute`, as a runner
    does): the CLI, and a page's job that holds a key only its session has. It is a job row like any other."""
    worker = Worker(queue, worker_id=f"{where}:{new_worker_id()}")
    job_id = queue.submit(kind, params, claimed_by=worker.id)
    return worker, queue.get(job_id)


def run_inline(
    kind: JobKind[P, R],
    params: P | dict[str, Any],
    on_progress: ProgressFn | None = None,
    *,
    context: JobContext | None = None,
    queue: JobQueue | None = None,
) -> R:
    """Execute a job in this process, through the same code as a worker's runner (the CLI's path, with a tqdm bar
    as `on_progress`). Returns its result; a failed job raises its error (a StudioError, for the user)."""
    queue = queue or JobQueue()
    worker, job = start_here(queue, kind.name, params)
    worker.execute(job, context=context or JobContext(on_progress=on_progress))
    job = queue.get(job.id)
    if job.status == FAILED:
        raise StudioError(job.error)
    result = job.result_as(kind.result)
    if result is None:
        raise StudioError(f"job {job.id} ended {job.status} without a result: {job.message}")
    return result


def wait_for(queue: JobQueue, job_id: int, *, timeout_s: float, poll_s: float = 0.2) -> Job:
    """Poll until the job is finished (tests and scripts)."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = queue.get(job_id)
        if job.finished or time.monotonic() > deadline:
            return job
        time.sleep(poll_s)


__all__ = ["QUEUED", "Worker", "run_inline", "start_here", "wait_for"]
