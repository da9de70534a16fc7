"""A page submits a job; new sessions (a reload, a restarted web server) find its progress and then its result in
the database. The job is run by a real worker subprocess started only after the page was left."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.auth import LOCAL_USER
from core.jobs import DONE, JobQueue
from core.landmarks.kinds import EXTRACTION
from core.settings import Settings, get_settings
from core.store import Store
from tests.jobs.conftest import fill_store

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "1_Data.py")


def test_progress_and_result_survive_a_reload(
    app_env: Settings,
    face_variants: list[np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    start_worker: Callable[..., Popen[bytes]],
) -> None:
    monkeypatch.setenv("START_WORKER", "false")  # no worker yet: the job waits in the queue
    get_settings.cache_clear()
    settings = get_settings()
    fill_store(Store(settings), face_variants, 5)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.button(key="extract_run").click().run()
    assert not at.exception
    job = JobQueue(settings).latest(EXTRACTION, LOCAL_USER.id)
    assert job is not None and job.status == "queued"

    # A new session shows the queued job, its progress bar and Cancel, and no second start.
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    bars = [p.proto.text for p in at.get("progress")]
    assert any(t.startswith(f"Job {job.id} · queued") for t in bars), bars
    assert any(b.key == f"extract_cancel_{job.id}" for b in at.button)
    assert at.button(key="extract_run").disabled
    assert any("No job worker is running" in w.value for w in at.warning)

    start_worker(settings)
    deadline = time.monotonic() + 120
    while not JobQueue(settings).get(job.id).finished:
        assert time.monotonic() < deadline, "the worker did not finish the job"
        time.sleep(0.2)
    assert JobQueue(settings).get(job.id).status == DONE

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any(f"Job {job.id} · done 5/5" in s.value for s in at.success)
    assert any("5 faces, 0 without a face, 0 errors" in c.value for c in at.caption)
    assert {m.label: m.value for m in at.metric}["Faces"] == "5"
