"""The job queue's rules on a real database: one claim per job under a race (SQLite and PostgreSQL), stale jobs go
back to the queue with a message, cancel rights, and parameters that no longer validate."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest
from sqlalchemy import update

from core.active_learning.kinds import AL_SCORING
from core.auth import LOCAL_USER, PermissionDenied, Role, User, acting_as
from core.db import session_scope
from core.jobs import DONE, FAILED, QUEUED, RUNNING, JobQueue
from core.jobs.tables import JobRow
from core.jobs.worker import Worker
from core.landmarks.kinds import EXTRACTION
from core.settings import Settings


def _claim_all(url: str, data_root: str, out: mp.Queue[list[int]], start_at: float) -> None:
    from core.settings import Settings

    queue = JobQueue(Settings(_env_file=None, data_root=data_root, database_url=url))  # type: ignore[call-arg]
    worker_id = f"racer-{mp.current_process().pid}"
    time.sleep(max(0.0, start_at - time.time()))  # start together, to race
    claimed = []
    while (job := queue.claim(worker_id)) is not None:
        claimed.append(job.id)
    out.put(claimed)


def _race(settings: Settings, n_jobs: int = 40, n_racers: int = 4) -> None:
    queue = JobQueue(settings)
    with acting_as(LOCAL_USER):
        # Scoring jobs (extraction runs one at a time: it could not be queued 40 times).
        ids = [queue.submit(AL_SCORING, {}) for _ in range(n_jobs)]
    ctx = mp.get_context("spawn")
    out: mp.Queue[list[int]] = ctx.Queue()
    start_at = time.time() + 3.0
    procs = [
        ctx.Process(target=_claim_all, args=(settings.resolved_database_url, str(settings.data_root), out, start_at))
        for _ in range(n_racers)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    claimed = [job_id for r in results for job_id in r]
    assert sorted(claimed) == sorted(ids)  # every job claimed exactly once: none twice, none missed
    jobs = queue.recent(limit=n_jobs)
    assert all(j.status == RUNNING and j.attempts == 1 for j in jobs)
    by_worker = {j.id: j.worker_id for j in jobs}
    for r in results:
        for job_id in r:
            assert by_worker[job_id] is not None


def test_claim_race_sqlite(settings: Settings) -> None:
    _race(settings)


@pytest.mark.postgres
def test_claim_race_postgres(pg_settings: Settings) -> None:
    _race(pg_settings)


def test_stale_job_is_requeued_with_a_message(settings: Settings) -> None:
    queue = JobQueue(settings)
    with acting_as(LOCAL_USER):
        job_id = queue.submit(EXTRACTION, {})
    job = queue.claim("dead-worker")
    assert job is not None and job.id == job_id
    assert queue.requeue_stale(stale_after_s=60) == []  # fresh heartbeat: left alone
    time.sleep(0.3)
    assert queue.requeue_stale(stale_after_s=0.1) == [job_id]
    job = queue.get(job_id)
    assert job.status == QUEUED and job.worker_id is None
    assert "dead-worker stopped responding" in job.message
    # The dead worker can no longer write to it, even if it comes back.
    assert queue.heartbeat(job_id, "dead-worker", 1, 2, "x") is True
    assert not queue.finish(job_id, "dead-worker", DONE)
    assert queue.claim("live-worker") is not None and queue.get(job_id).attempts == 2


def test_only_the_starter_or_an_admin_may_cancel(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = JobQueue(settings)
    alice = User("alice@example.org", Role.TRAINER)
    bob = User("bob@example.org", Role.TRAINER)
    with acting_as(alice):
        job_id = queue.submit(EXTRACTION, {})
    assert queue.get(job_id).started_by == "alice@example.org"
    with acting_as(bob), pytest.raises(PermissionDenied, match=r"alice@example\.org"):
        queue.request_cancel(job_id)
    with acting_as(User("viewer@example.org", Role.VIEWER)), pytest.raises(PermissionDenied):
        queue.submit(EXTRACTION, {})
    with acting_as(User("admin@example.org", Role.ADMIN)):
        assert queue.request_cancel(job_id).status == "cancelled"


def test_parameters_that_no_longer_validate_fail_with_a_clear_message(settings: Settings) -> None:
    queue = JobQueue(settings)
    with acting_as(LOCAL_USER):
        job_id = queue.submit(EXTRACTION, {"workers": 2})
    # As if the code changed since it was queued: the stored parameters no longer fit the kind's model.
    with session_scope(queue.engine) as s:
        s.execute(update(JobRow).where(JobRow.id == job_id).values(params={"workers": "many", "gone": 1}))
    Worker(queue).run(once=True)
    job = queue.get(job_id)
    assert job.status == FAILED
    assert "no longer valid" in job.error and "workers" in job.error and "Traceback" not in job.error


def test_unknown_kind_fails_cleanly(settings: Settings) -> None:
    queue = JobQueue(settings)
    with acting_as(LOCAL_USER):
        job_id = queue.submit(EXTRACTION, {})
    with session_scope(queue.engine) as s:
        s.execute(update(JobRow).where(JobRow.id == job_id).values(kind="retired_kind"))
    Worker(queue).run(once=True)
    job = queue.get(job_id)
    assert job.status == FAILED and "unknown job kind 'retired_kind'" in job.error
