"""The workers' tidying: what no queued or running job needs any more goes."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from core.batch_evaluation import BATCH_UPLOADS
from core.jobs.tables import QUEUED, RUNNING

if TYPE_CHECKING:
    from core.jobs.queue import JobQueue


def sweep_job_files(queue: JobQueue) -> None:
    """Remove staged Batch test folders (a job cancelled before it started, a page that never submitted, a crash)
    and job folders (checkpoints) of finished or vanished jobs. The workers call this now and then."""
    from core.batch_uploads import sweep_uploads
    from core.training.checkpoint import job_folder

    live = queue.recent(statuses=(QUEUED, RUNNING), limit=100_000)
    sweep_uploads(queue.settings, {str(j.params.get("upload_id")) for j in live if j.kind == BATCH_UPLOADS})
    live_ids = {j.id for j in live}
    root = job_folder(queue.settings, 0).parent
    for folder in root.iterdir() if root.is_dir() else ():
        if folder.is_dir() and not (folder.name.isdigit() and int(folder.name) in live_ids):
            shutil.rmtree(folder, ignore_errors=True)
