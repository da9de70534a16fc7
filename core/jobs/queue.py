"""The job queue in the database: submit, look up, cancel, and the workers' side (claim, heartbeat, finish, requeue).

Every process (dashboard, CLI, workers on other machines) talks to the same rows, so a job outlives the page that
submitted it and the web server that served that page. A job is claimed by exactly one worker: on PostgreSQL with
`SELECT ... FOR UPDATE SKIP LOCKED`, on SQLite with a conditional UPDATE that only one writer can win.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.auth import require, require_owner
from core.db import session_scope
from core.errors import JobNotFound, StudioError
from core.jobs.catalog import all_kinds, get_kind, kinds_in_lane
from core.jobs.contract import UnknownJobKind
from core.jobs.job import Job, WorkerInfo, aware
from core.jobs.tables import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobRow, WorkerRow
from core.migrations import open_database
from core.settings import Settings, get_settings
from core.store.tables import utcnow

log = logging.getLogger("core.jobs")


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine with that pid exists (owned by anyone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _changed(session: Session, statement: Any) -> int:
    """Rows an UPDATE changed: how a conditional update tells who won."""
    # No ORM synchronisation: the session holds no rows to refresh, and SQLite's naive datetimes can't be compared.
    return int(session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0)  # type: ignore[attr-defined]


class JobAlreadyActive(StudioError):
    """A kind that runs one at a time already has a job queued or running."""

    def __init__(self, job: Job, title: str) -> None:
        super().__init__(
            f"{title} job {job.id} (started by {job.started_by}) is already {job.status}: it covers this too; "
            "follow it on the Jobs page"
        )
        self.job = job


class JobQueue:
    """The jobs table of one database (the process-wide settings' by default)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.engine = open_database(self.settings.resolved_database_url, self.settings.data_root)
        self._postgres = self.engine.dialect.name == "postgresql"

    # --- the submitting side (pages, CLI --submit) ---------------------------------------------------------------

    def submit(self, kind: str, params: BaseModel | dict[str, Any], *, claimed_by: str | None = None) -> int:
        """Queue a job as the acting user, if their role allows the kind; the parameters are checked now too.
        `claimed_by` records it as already running on that worker (one in this process that holds something the
        database must not, such as a key typed for one session), so no other worker takes it."""
        spec = get_kind(kind)
        user = require(spec.permission)
        model = params if isinstance(params, spec.params) else spec.params.model_validate(params)
        if spec.exclusive or spec.exclusive_key is not None:
            key = spec.exclusive_key
            for busy in self.recent(kind=kind, statuses=(QUEUED, RUNNING), limit=1000):
                if key is not None and key(spec.params.model_validate(busy.params)) != key(model):
                    continue
                if not self._abandon(busy):
                    raise JobAlreadyActive(busy, spec.title)
        with session_scope(self.engine) as s:
            row = JobRow(
                kind=kind,
                params=model.model_dump(mode="json"),
                status=QUEUED,
                done=0,
                total=0,
                message="queued: waiting for a worker",
                started_by=user.id,
                started_role=user.role.label,
                error="",
                cancel_requested=False,
                attempts=0,
            )
            if claimed_by is not None:
                now = utcnow()
                row.status, row.worker_id, row.started_at, row.heartbeat_at, row.attempts = (
                    RUNNING,
                    claimed_by,
                    now,
                    now,
                    1,
                )
                row.message = "starting"
            s.add(row)
            s.flush()
            job_id = row.id
        log.info("job %s (%s) queued by %s", job_id, kind, user.id)
        return job_id

    def _abandon(self, job: Job) -> bool:
        """Close a running job whose process on this machine is gone (a CLI run killed with `kill -9`), so a new
        run of the same work may start now rather than after the stale timeout. True when it was closed."""
        if job.status != RUNNING or job.worker_id is None:
            return False
        host, _, rest = job.worker_id.removeprefix("inline:").removeprefix("dashboard:").partition(":")
        pid = rest.split(":", 1)[0]
        if host != socket.gethostname()[:80] or not pid.isdigit() or pid_alive(int(pid)):
            return False
        message = f"abandoned: its process {pid} on {host} is gone; a new run goes on with the work"
        return self.finish(job.id, job.worker_id, FAILED, message="failed", error=message)

    def get(self, job_id: int) -> Job:
        with session_scope(self.engine) as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise JobNotFound(f"no job {job_id}")
            return Job.of(row)

    def recent(
        self, *, kind: str | None = None, started_by: str | None = None, statuses: Sequence[str] = (), limit: int = 50
    ) -> list[Job]:
        """Newest first."""
        query = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        if started_by is not None:
            query = query.where(JobRow.started_by == started_by)
        if statuses:
            query = query.where(JobRow.status.in_(list(statuses)))
        with session_scope(self.engine) as s:
            return [Job.of(r) for r in s.scalars(query)]

    def latest(self, kind: str, started_by: str) -> Job | None:
        """The user's newest job of this kind: what a page shows again after a reload or a server restart."""
        jobs = self.recent(kind=kind, started_by=started_by, limit=1)
        return jobs[0] if jobs else None

    def request_cancel(self, job_id: int) -> Job:
        """Cancel a job (only its starter or an admin). A queued job is cancelled at once and never starts; a
        running one stops at its next check, keeping the work it finished."""
        job = self.get(job_id)
        user = require_owner(job.started_by or None, f"cancelling job {job_id}")
        now = utcnow()
        with session_scope(self.engine) as s:
            # Conditional on the status, so a worker claiming it at this moment either sees the cancel or wins first.
            hit = _changed(
                s,
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == QUEUED)
                .values(
                    status=CANCELLED,
                    cancel_requested=True,
                    finished_at=now,
                    message=f"cancelled by {user.id} before it started",
                ),
            )
            if not hit:
                s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status == RUNNING)
                    .values(cancel_requested=True, message=f"cancel requested by {user.id}; stopping")
                )
        log.info("job %s: cancel requested by %s", job_id, user.id)
        return self.get(job_id)

    # --- the worker side --------------------------------------------------------------------------------------

    def claim(self, worker_id: str, kinds: Sequence[str] = ()) -> Job | None:
        """Take the oldest queued job (of `kinds`, if given) for this worker, or None. Exactly one worker wins a job."""
        now = utcnow()
        values = dict(
            status=RUNNING, worker_id=worker_id, started_at=now, heartbeat_at=now, attempts=JobRow.attempts + 1
        )
        query = select(JobRow.id).where(JobRow.status == QUEUED).order_by(JobRow.id).limit(1)
        if kinds:
            query = query.where(JobRow.kind.in_(list(kinds)))
        if self._postgres:
            with session_scope(self.engine) as s:
                job_id = s.scalar(query.with_for_update(skip_locked=True))
                if job_id is None:
                    return None
                s.execute(update(JobRow).where(JobRow.id == job_id).values(**values))
            return self.get(job_id)
        for _ in range(20):  # SQLite: lose a race, try the next job
            with session_scope(self.engine) as s:
                job_id = s.scalar(query)
                if job_id is None:
                    return None
                won = _changed(s, update(JobRow).where(JobRow.id == job_id, JobRow.status == QUEUED).values(**values))
            if won:
                return self.get(job_id)
        return None

    def heartbeat(self, job_id: int, worker_id: str, done: int, total: int, message: str) -> bool:
        """Record progress and that the worker lives. Returns whether to stop: a cancel was requested, or the job
        is no longer this worker's (it was requeued after a stall and another worker may have it)."""
        with session_scope(self.engine) as s:
            hit = _changed(
                s,
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.worker_id == worker_id, JobRow.status == RUNNING)
                .values(done=done, total=total, message=message[:2000], heartbeat_at=utcnow()),
            )
            if not hit:
                return True
            return bool(s.scalar(select(JobRow.cancel_requested).where(JobRow.id == job_id)))

    def finish(
        self,
        job_id: int,
        worker_id: str,
        status: str,
        *,
        message: str = "",
        error: str = "",
        result: dict[str, Any] | None = None,
        done: int | None = None,
        total: int | None = None,
    ) -> bool:
        """Close a job this worker holds. False when it no longer holds it (requeued meanwhile): nothing written."""
        assert status in (DONE, FAILED, CANCELLED)
        values: dict[str, Any] = dict(status=status, finished_at=utcnow(), message=message[:2000], error=error[:4000])
        if result is not None:
            values["result"] = result
        if done is not None and total is not None:
            values.update(done=done, total=total)
        with session_scope(self.engine) as s:
            return bool(
                _changed(
                    s,
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.worker_id == worker_id, JobRow.status == RUNNING)
                    .values(**values),
                )
            )

    def requeue_stale(self, stale_after_s: float | None = None) -> list[int]:
        """Running jobs whose worker stopped sending heartbeats (killed, machine gone) go back to the queue; one
        whose cancel was requested is cancelled instead. Returns the ids requeued."""
        cutoff = utcnow() - timedelta(seconds=stale_after_s or self.settings.job_stale_after_s)
        requeued: list[int] = []
        with session_scope(self.engine) as s:
            rows = s.scalars(select(JobRow).where(JobRow.status == RUNNING, JobRow.heartbeat_at < cutoff)).all()
            for row in rows:
                was = row.worker_id
                stale = {"status": RUNNING, "worker_id": was}
                if row.cancel_requested:
                    new = dict(status=CANCELLED, finished_at=utcnow(), message=f"cancelled; worker {was} had stopped")
                else:
                    new = dict(
                        status=QUEUED,
                        worker_id=None,
                        message=f"requeued: worker {was} stopped responding (killed?) at {row.done}/{row.total}; "
                        "the next worker resumes it",
                    )
                # Conditional: if the worker came back to life and wrote meanwhile, leave the job to it.
                hit = _changed(
                    s,
                    update(JobRow)
                    .where(JobRow.id == row.id, JobRow.status == stale["status"], JobRow.worker_id == was)
                    .where(JobRow.heartbeat_at < cutoff)
                    .values(**new),
                )
                if hit and new["status"] == QUEUED:
                    requeued.append(row.id)
                    log.warning("job %s requeued: worker %s stopped sending heartbeats", row.id, was)
        return requeued

    def touch(self, job_id: int, worker_id: str) -> None:
        """The supervisor's heartbeat for a job whose runner process is alive (its own beat may be busy)."""
        with session_scope(self.engine) as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.worker_id == worker_id, JobRow.status == RUNNING)
                .values(heartbeat_at=utcnow())
            )

    def lane_position(self, job: Job) -> int:
        """1 for the next queued job of its lane, 2 for the one after, ... (0 when it is not queued)."""
        if job.status != QUEUED or job.kind not in all_kinds():
            return 0
        lane = kinds_in_lane(get_kind(job.kind).lane)
        with session_scope(self.engine) as s:
            ahead = s.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(JobRow.status == QUEUED, JobRow.id < job.id, JobRow.kind.in_(lane))
            )
        return int(ahead or 0) + 1

    def where(self, job: Job) -> str:
        """Where a job is, for people: its place in its lane and whether a worker will take it, or who runs it."""
        try:
            lane: str = get_kind(job.kind).lane
        except UnknownJobKind:
            lane = "unknown"
        if job.status == RUNNING:
            return f"running in the {lane} lane on worker {job.worker_id}"
        if job.status != QUEUED:
            return job.status
        place = f"queued: number {self.lane_position(job)} in the {lane} lane"
        if not self.live_workers():
            place += "; no worker is alive: one starts with the dashboard, or run `python -m core worker`"
        if job.message.startswith("requeued:"):
            place += f" ({job.message})"
        return place

    def release(self, job_id: int, worker_id: str, message: str) -> None:
        """Hand a running job back to the queue (its worker is shutting down)."""
        with session_scope(self.engine) as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.worker_id == worker_id, JobRow.status == RUNNING)
                .values(status=QUEUED, worker_id=None, message=message)
            )

    # --- workers' own heartbeats (is any worker alive?) ---------------------------------------------------------

    def worker_alive(self, worker_id: str, host: str, pid: int, kinds: Sequence[str]) -> None:
        now = utcnow()
        with session_scope(self.engine) as s:
            row = s.get(WorkerRow, worker_id)
            if row is None:
                s.add(
                    WorkerRow(id=worker_id, host=host, pid=pid, kinds=",".join(kinds), started_at=now, heartbeat_at=now)
                )
            else:
                row.heartbeat_at = now

    def worker_gone(self, worker_id: str) -> None:
        with session_scope(self.engine) as s:
            row = s.get(WorkerRow, worker_id)
            if row is not None:
                s.delete(row)

    def workers(self) -> list[WorkerInfo]:
        """Every worker on record (a dead one stays until a live one notices), with the jobs it runs."""
        cutoff = utcnow() - timedelta(seconds=self.settings.job_stale_after_s)
        with session_scope(self.engine) as s:
            rows = list(s.scalars(select(WorkerRow).order_by(WorkerRow.started_at)))
            running = list(s.execute(select(JobRow.id, JobRow.worker_id).where(JobRow.status == RUNNING)))
            return [
                WorkerInfo(
                    id=r.id,
                    host=r.host,
                    pid=r.pid,
                    kinds=r.kinds,
                    started_at=aware(r.started_at) or utcnow(),
                    heartbeat_at=aware(r.heartbeat_at) or utcnow(),
                    alive=(aware(r.heartbeat_at) or utcnow()) >= cutoff,
                    jobs=[i for i, w in running if w is not None and (w == r.id or w.startswith(f"{r.id}/"))],
                )
                for r in rows
            ]

    def live_workers(self, within_s: float | None = None) -> list[str]:
        cutoff = utcnow() - timedelta(seconds=within_s or self.settings.job_stale_after_s)
        with session_scope(self.engine) as s:
            return list(s.scalars(select(WorkerRow.id).where(WorkerRow.heartbeat_at >= cutoff)))
