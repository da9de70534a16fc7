"""The worker in real subprocesses on a real SQLite database, running real MediaPipe extraction jobs."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from subprocess import Popen

import numpy as np
from sqlalchemy import func, select

from core.auth import LOCAL_USER, acting_as
from core.db import session_scope
from core.jobs import CANCELLED, DONE, QUEUED, RUNNING, JobQueue
from core.jobs.worker import wait_for
from core.landmarks.kinds import EXTRACTION
from core.settings import Settings
from core.store import Store
from core.store.tables import Extraction
from tests.jobs.conftest import fill_store, wait_until


def _extraction_rows(store: Store) -> tuple[int, int]:
    """(extraction rows, distinct images with one)."""
    with session_scope(store.engine) as s:
        rows = s.scalar(select(func.count()).select_from(Extraction)) or 0
        distinct = s.scalar(select(func.count(func.distinct(Extraction.image_id)))) or 0
    return int(rows), int(distinct)


def test_kill_9_mid_job_and_another_worker_resumes_without_redoing(
    settings: Settings, store: Store, face_variants: list[np.ndarray], start_worker: Callable[..., Popen[bytes]]
) -> None:
    # Enough images that the cancel lands mid-run on any machine: up to 6 chunks of 16 are already handed to the
    # pool when it comes (and finish, by design), and a beat or two of work goes on before the worker sees it.
    n = 320
    fill_store(store, face_variants, n)
    queue = JobQueue(settings)
    with acting_as(LOCAL_USER):
        job_id = queue.submit(EXTRACTION, {})
    first = start_worker(settings)
    # Progress is visible from this process while the worker runs the job.
    wait_until(lambda: queue.get(job_id).status == RUNNING and queue.get(job_id).done > 0, 120, "progress")
    wait_until(lambda: _extraction_rows(store)[0] >= 16, 60, "a first saved chunk")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    saved_at_kill, _ = _extraction_rows(store)
    assert saved_at_kill < n, "the job finished before the kill: use more images"
    assert queue.get(job_id).status == RUNNING  # nobody has noticed yet

    second = start_worker(settings)
    job = wait_for(queue, job_id, timeout_s=180)
    assert job.status == DONE, job
    assert job.attempts == 2
    assert "requeued" in job.message or "resumed" in job.message
    rows, distinct = _extraction_rows(store)
    assert rows == distinct == n  # nothing lost, nothing duplicated
    assert job.result is not None
    # The second run did only what the first had not saved (rows saved after our count were mid-write).
    assert job.result["processed"] <= n - saved_at_kill
    assert job.result["processed"] + saved_at_kill >= n
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=30) == 0


def test_cancel_running_job_keeps_finished_work(
    settings: Settings, store: Store, face_variants: list[np.ndarray], start_worker: Callable[..., Popen[bytes]]
) -> None:
    # Enough images that the cancel lands mid-run on any machine: up to 6 chunks of 16 are already handed to the
    # pool when it comes (and finish, by design), and a beat or two of work goes on before the worker sees it.
    n = 320
    fill_store(store, face_variants, n)
    queue = JobQueue(settings)
    with acting_as(LOCAL_USER):
        job_id = queue.submit(EXTRACTION, {})
    start_worker(settings)
    wait_until(lambda: queue.get(job_id).done > 0, 120, "progress")
    with acting_as(LOCAL_USER):
        queue.request_cancel(job_id)
    job = wait_for(queue, job_id, timeout_s=60)
    assert job.status == CANCELLED, job
    assert "cancelled" in job.message
    rows, distinct = _extraction_rows(store)
    assert rows == distinct
    assert 0 < rows < n
    assert job.result is not None and job.result["processed"] == rows


def test_job_cancelled_while_queued_never_starts(
    settings: Settings, store: Store, face_variants: list[np.ndarray], start_worker: Callable[..., Popen[bytes]]
) -> None:
    fill_store(store, face_variants, 3)
    queue = JobQueue(settings)
    with acting_as(LOCAL_USER):
        cancelled_id = queue.submit(EXTRACTION, {})
        queue.request_cancel(cancelled_id)
        later_id = queue.submit(EXTRACTION, {})
    assert queue.get(cancelled_id).status == CANCELLED
    worker = start_worker(settings, "--once")
    assert worker.wait(timeout=120) == 0
    cancelled = queue.get(cancelled_id)
    assert cancelled.status == CANCELLED and cancelled.started_at is None and cancelled.attempts == 0
    assert "before it started" in cancelled.message
    assert queue.get(later_id).status == DONE  # --once ran the next queued job instead
    assert _extraction_rows(store)[0] == 3
    assert queue.get(later_id).status != QUEUED
