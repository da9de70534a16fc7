"""Rules a worker applies on a team server: who a job runs as (their role now, not when it was queued), which server
paths a job may read (the CLI's anywhere, the dashboard's only under the import roots), and one extraction at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.auth import OPERATOR, Role, User, acting_as
from core.auth.users import add_user, remove_user, set_role
from core.batch_evaluation import BATCH_EVALUATION
from core.detector.kinds import DETECTOR_TRAINING
from core.import_job import IMPORT
from core.jobs import CANCELLED, FAILED, JobQueue
from core.jobs.queue import JobAlreadyActive
from core.jobs.worker import Worker, run_inline
from core.landmarks.kinds import EXTRACTION, EXTRACTION_KIND
from core.settings import Settings, get_settings
from core.store import Store
from tests.jobs.conftest import fill_store

TRAINER = User("tess@example.org", Role.TRAINER)


@pytest.fixture
def team(app_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("AUTH_MODE", "team")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.team_mode
    return settings


def _run_one(queue: JobQueue, job_id: int) -> None:
    worker = Worker(queue)
    job = queue.claim(worker.id)
    assert job is not None and job.id == job_id
    worker.execute(job)


def test_a_queued_job_runs_with_its_starters_role_as_it_is_now(team: Settings) -> None:
    queue = JobQueue(team)
    with acting_as(OPERATOR):
        add_user(queue.engine, TRAINER.id, Role.TRAINER)
    with acting_as(TRAINER):
        demoted_job = queue.submit(EXTRACTION, {})
    with acting_as(OPERATOR):
        set_role(queue.engine, TRAINER.id, Role.VIEWER)
    _run_one(queue, demoted_job)
    job = queue.get(demoted_job)
    assert job.status == FAILED and "is a viewer" in job.error

    with acting_as(OPERATOR):
        set_role(queue.engine, TRAINER.id, Role.TRAINER)
    with acting_as(TRAINER):
        removed_job = queue.submit(EXTRACTION, {})
    with acting_as(OPERATOR):
        remove_user(queue.engine, TRAINER.id)
    _run_one(queue, removed_job)
    job = queue.get(removed_job)
    assert job.status == FAILED and "no longer a user" in job.error


def test_server_paths_of_a_job_follow_who_started_it(team: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    queue = JobQueue(team)
    with acting_as(OPERATOR):
        add_user(queue.engine, TRAINER.id, Role.TRAINER)

    # The CLI's --submit: the operator reads anywhere, also when a worker runs the job (no model here, so the job
    # gets past the path check and stops at the model).
    with acting_as(OPERATOR):
        cli_job = queue.submit(BATCH_EVALUATION, {"path": str(outside)})
    _run_one(queue, cli_job)
    job = queue.get(cli_job)
    assert job.status == FAILED and "outside the import folders" not in job.error and "model" in job.error

    # The dashboard's trainer: only under the import roots (DATA_ROOT/inbox by default in team mode).
    inbox = team.data_root / "inbox"
    inbox.mkdir(parents=True)
    with acting_as(TRAINER):
        detector_job = queue.submit(DETECTOR_TRAINING, {"yolo": str(outside), "epochs": 1})
        out_job = queue.submit(BATCH_EVALUATION, {"path": str(inbox), "out": str(outside / "p.csv")})
        # A file outside the roots, imported as a folder: refused as outside, never "is a file" (that would tell).
        secret = outside / "secret.txt"
        secret.write_text("x")
        import_job = queue.submit(IMPORT, {"path": str(secret), "kind": "folder"})
    for job_id in (detector_job, out_job, import_job):
        _run_one(queue, job_id)
    assert "outside the import folders" in queue.get(detector_job).error
    refused = queue.get(import_job).error
    assert "outside the import folders" in refused and "is a file" not in refused
    out = queue.get(out_job)
    assert out.status == FAILED and "only the command line" in out.error
    assert not (outside / "p.csv").exists()


def test_one_extraction_at_a_time(app_env: Settings, face_variants: list[np.ndarray]) -> None:
    queue = JobQueue(app_env)
    first = queue.submit(EXTRACTION, {})
    with pytest.raises(JobAlreadyActive, match=f"job {first} .* already queued"):
        queue.submit(EXTRACTION, {"retry_failed": True})
    assert queue.request_cancel(first).status == CANCELLED
    queue.submit(EXTRACTION, {})  # once it ended, another may start


def test_an_extraction_also_does_images_imported_while_it_runs(
    app_env: Settings, face_variants: list[np.ndarray]
) -> None:
    store = Store(app_env)
    fill_store(store, face_variants, 2)
    late = face_variants[5].copy()
    late[2, 2, :] = 7
    added: list[int] = []

    def progress(done: int, total: int, message: str = "", /) -> None:
        if done and not added:  # the first chunk is saved: import one more image, as a teammate would
            from core.imaging import encode_png

            added.append(store.add_image(encode_png(late), original_name="late.png", emotion="sad").image_id)

    result = run_inline(EXTRACTION_KIND, {}, progress)
    assert added and result.processed == 3
    assert store.pending_extraction_ids() == []


@pytest.mark.timeout(60)
def test_an_idle_worker_exits_when_told_to(settings: Settings) -> None:
    """The dashboard's own worker runs with --idle-exit: a closed dashboard leaves no worker behind for long."""
    queue = JobQueue(settings)
    with acting_as(OPERATOR):
        queue.submit(EXTRACTION, {})  # nothing to extract: done at once
    assert Worker(queue).run(poll_s=0.05, idle_exit_s=0.5) == 1  # the job first, then it waits, then it leaves
    assert queue.live_workers() == []
