"""The Batch test job kind: viewers may run it (and only on staged uploads, never a server path); a worker removes
its staged folder when the job ends, also when it fails."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from core.auth import PermissionDenied, Role, User, acting_as
from core.batch_evaluation import BATCH_EVALUATION, BATCH_UPLOADS
from core.batch_uploads import stage_upload_folder
from core.imaging import encode_png
from core.jobs import FAILED, JobQueue
from core.jobs.worker import Worker
from core.settings import Settings

VIEWER = User("viewer@example.org", Role.VIEWER)


def test_a_viewer_may_test_uploads_but_not_a_server_folder(settings: Settings) -> None:
    queue = JobQueue(settings)
    with acting_as(VIEWER):
        queue.submit(BATCH_UPLOADS, {"upload_id": "0" * 32})
        with pytest.raises(PermissionDenied, match="trainer"):
            queue.submit(BATCH_EVALUATION, {"path": "/etc"})
        with pytest.raises(ValidationError):
            queue.submit(BATCH_UPLOADS, {"upload_id": "../../etc"})


def test_the_worker_removes_the_staged_folder_when_the_job_fails(app_env: Settings) -> None:
    staged = stage_upload_folder([("happy_1.png", encode_png(np.zeros((8, 8, 3), np.uint8)))], app_env)
    queue = JobQueue(app_env)
    with acting_as(VIEWER):
        job_id = queue.submit(BATCH_UPLOADS, {"upload_id": staged.upload_id})  # no model in the registry
    worker = Worker(queue)
    job = queue.claim(worker.id)
    assert job is not None and job.id == job_id
    worker.execute(job)
    job = queue.get(job_id)
    assert job.status == FAILED and "no model" in job.error
    assert not staged.folder.exists()
