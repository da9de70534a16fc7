"""Lanes: a short job (an import) finishes while a long one (an extraction) runs, in a real supervisor's reserved
runner; and the page's "position in its lane" counts only the jobs of that lane."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

import numpy as np
import pytest

from core.auth import LOCAL_USER, acting_as
from core.batch_evaluation import BATCH_UPLOADS
from core.imaging import encode_png
from core.import_job import IMPORT
from core.jobs import DONE, JobQueue
from core.jobs.worker import wait_for
from core.landmarks.kinds import EXTRACTION
from core.settings import Settings
from core.store import Store
from tests.jobs.conftest import fill_store, wait_until

pytestmark = pytest.mark.slow  # kills real process trees and waits for their jobs: seconds each


def test_a_short_job_finishes_while_a_long_one_runs(
    settings: Settings,
    store: Store,
    tmp_path: Path,
    face_variants: list[np.ndarray],
    start_worker: Callable[..., Popen[bytes]],
) -> None:
    fill_store(store, face_variants, 400)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i, rgb in enumerate(face_variants[:3]):
        (inbox / f"new_{i}.png").write_bytes(encode_png(rgb[::-1].copy()))  # flipped: new content
    queue = JobQueue(settings)
    with acting_as(LOCAL_USER):
        long_id = queue.submit(EXTRACTION, {})
    start_worker(settings, "--concurrency", "1")  # one runner for any job, one kept for short ones
    wait_until(lambda: queue.get(long_id).done > 0, 180, "the extraction to start")
    with acting_as(LOCAL_USER):
        short_id = queue.submit(IMPORT, {"path": str(inbox)})
    short = wait_for(queue, short_id, timeout_s=180)
    assert short.status == DONE, short
    long = wait_for(queue, long_id, timeout_s=600)
    assert long.status == DONE, long
    assert short.finished_at is not None and long.finished_at is not None
    assert short.finished_at < long.finished_at  # the import did not wait for the extraction
    assert long.done > short.done  # ... which had more to do than the import's
    assert short.worker_id is not None and short.worker_id.endswith("/0")  # the short lane's own runner
    assert long.worker_id is not None and long.worker_id.rsplit(":", 1)[0] == short.worker_id.rsplit(":", 1)[0]


def test_position_in_a_lane_counts_that_lane_only(settings: Settings, tmp_path: Path) -> None:
    queue = JobQueue(settings)
    with acting_as(LOCAL_USER):
        ids = [
            queue.submit(EXTRACTION, {}),
            queue.submit(IMPORT, {"path": str(tmp_path)}),
            queue.submit(BATCH_UPLOADS, {"upload_id": "0" * 32}),
        ]
    long, first_short, second_short = (queue.get(i) for i in ids)
    assert [queue.lane_position(j) for j in (long, first_short, second_short)] == [1, 1, 2]
    claimed = queue.claim("w:1/0", [IMPORT])
    assert claimed is not None and queue.lane_position(claimed) == 0
    assert queue.lane_position(queue.get(ids[2])) == 1
