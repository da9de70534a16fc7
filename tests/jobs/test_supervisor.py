"""The supervised pool in real subprocesses (`python -m core worker`), on real SQLite, running real MediaPipe
extraction in a process pool (forkserver and pool workers): `kill -9` of a runner or of the supervisor leaves no
process of it behind, and the job finishes once, with no page open."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from subprocess import Popen

import numpy as np
import pytest

from core.auth import LOCAL_USER, acting_as
from core.jobs import CANCELLED, DONE, FAILED, JobQueue
from core.jobs.worker import wait_for
from core.landmarks.kinds import EXTRACTION
from core.settings import Settings
from core.store import Store
from tests.jobs.conftest import fill_store, wait_until
from tests.jobs.proctree import group, processes, runners_of
from tests.jobs.test_worker_process import _extraction_rows

pytestmark = pytest.mark.slow  # kills real process trees and waits for their jobs: seconds each

N = 400  # enough that a kill lands mid-job; the test says so when it does not


def _extraction_running(
    settings: Settings, store: Store, face_variants: list[np.ndarray], start_worker: Callable[..., Popen[bytes]]
) -> tuple[JobQueue, int, Popen[bytes], int, set[int]]:
    """An extraction job running in a supervisor's runner with a pool of two: (queue, job, supervisor, runner, the
    runner's process group once its pool is up)."""
    queue, job_id = _queued_extraction(settings, store, face_variants)
    supervisor = start_worker(settings, "--concurrency", "1", EXTRACT_WORKERS="2")
    wait_until(lambda: queue.get(job_id).done > 0, 180, "progress")
    [runner] = runners_of(supervisor.pid)
    members = group(runner)
    # The runner, the forkserver, two pool workers (and the resource tracker): all in the runner's group.
    assert len(members) >= 4, {p: processes()[p][2] for p in members}
    return queue, job_id, supervisor, runner, members


def _queued_extraction(settings: Settings, store: Store, face_variants: list[np.ndarray]) -> tuple[JobQueue, int]:
    """N images in the store and an extraction of them queued: (the queue, the job id)."""
    fill_store(store, face_variants, N)
    queue = JobQueue(settings)
    with acting_as(LOCAL_USER):
        return queue, queue.submit(EXTRACTION, {})


def test_kill_9_of_a_runner_kills_its_pool_and_the_job_is_rerun_once(
    settings: Settings, store: Store, face_variants: list[np.ndarray], start_worker: Callable[..., Popen[bytes]]
) -> None:
    queue, job_id, supervisor, runner, members = _extraction_running(settings, store, face_variants, start_worker)
    os.kill(runner, signal.SIGKILL)
    saved_at_kill, _ = _extraction_rows(store)
    assert saved_at_kill < N, "the job finished before the kill: use more images"
    wait_until(lambda: not group(runner), 60, "the runner's forkserver and pool to be killed")
    job = wait_for(queue, job_id, timeout_s=240)
    assert job.status == DONE, job
    assert job.attempts == 2 and "died (killed by signal 9)" in job.message
    rows, distinct = _extraction_rows(store)
    assert rows == distinct == N  # every image once: nothing redone, nothing skipped
    assert not (members & set(processes()))  # nothing of the killed runner is left
    assert supervisor.poll() is None  # the supervisor lives on


def test_kill_9_of_the_supervisor_leaves_nothing_and_another_finishes_the_job(
    settings: Settings, store: Store, face_variants: list[np.ndarray], start_worker: Callable[..., Popen[bytes]]
) -> None:
    queue, job_id, supervisor, runner, members = _extraction_running(settings, store, face_variants, start_worker)
    supervisor.kill()
    supervisor.wait(timeout=30)
    saved_at_kill, _ = _extraction_rows(store)
    assert saved_at_kill < N, "the job finished before the kill: use more images"
    wait_until(lambda: not group(runner), 60, "the runner to kill its group once its supervisor is gone")
    assert not (members & set(processes()))

    start_worker(settings, "--concurrency", "1")  # e.g. restarted by the team's service manager
    job = wait_for(queue, job_id, timeout_s=240)
    assert job.status == DONE, job
    assert job.attempts == 2 and "stopped responding" in job.message
    rows, distinct = _extraction_rows(store)
    assert rows == distinct == N


def test_a_cancel_not_obeyed_in_time_kills_the_jobs_group(
    settings: Settings, store: Store, face_variants: list[np.ndarray], start_worker: Callable[..., Popen[bytes]]
) -> None:
    queue, job_id = _queued_extraction(settings, store, face_variants)
    # The runner looks for a cancel only at its heartbeat, every 30 s here: it cannot obey within the 0.5 s grace.
    supervisor = start_worker(
        settings, "--concurrency", "1", EXTRACT_WORKERS="2", JOB_HEARTBEAT_S="30", JOB_CANCEL_GRACE_S="0.5"
    )
    wait_until(lambda: len(runners_of(supervisor.pid)) == 1, 60, "a runner")
    [runner] = runners_of(supervisor.pid)
    wait_until(lambda: len(group(runner)) >= 4, 120, "the runner's extraction pool")
    members = group(runner)
    with acting_as(LOCAL_USER):
        queue.request_cancel(job_id)
    job = wait_for(queue, job_id, timeout_s=60)
    assert job.status == CANCELLED and "stopped by force" in job.message, job
    wait_until(lambda: not group(runner), 30, "the job's processes to go")
    assert not (members & set(processes()))
    assert supervisor.poll() is None


def test_a_job_past_its_timeout_is_killed_and_fails(
    settings: Settings, store: Store, face_variants: list[np.ndarray], start_worker: Callable[..., Popen[bytes]]
) -> None:
    queue, job_id = _queued_extraction(settings, store, face_variants)
    supervisor = start_worker(settings, "--concurrency", "1", JOB_TIMEOUT_S="1")
    wait_until(lambda: len(runners_of(supervisor.pid)) == 1, 60, "a runner")
    [runner] = runners_of(supervisor.pid)
    job = wait_for(queue, job_id, timeout_s=60)
    assert job.status == FAILED and "timed out after 1 s" in job.error, job
    wait_until(lambda: not group(runner), 30, "the job's processes to go")
    assert supervisor.poll() is None
