"""AppTest of the Jobs page: everyone's recent jobs, and Cancel for an admin (the local user)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.auth import Role, User, acting_as
from core.jobs import CANCELLED, JobQueue
from core.landmarks.kinds import EXTRACTION
from core.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]


def test_jobs_page_lists_and_cancels(app_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("START_WORKER", "false")  # nothing runs the job: it stays queued until cancelled
    get_settings.cache_clear()
    queue = JobQueue(get_settings())
    with acting_as(User("alice@example.org", Role.TRAINER)):
        job_id = queue.submit(EXTRACTION, {})
    at = AppTest.from_file(str(ROOT / "pages" / "9_Jobs.py"), default_timeout=60).run()
    assert not at.exception
    assert any("No job worker is running" in w.value for w in at.warning)
    table = next(d.value for d in at.dataframe if "id" in d.value.columns)
    row = table[table["id"] == job_id].iloc[0]
    assert row["status"] == "queued" and row["owner"] == "alice@example.org" and row["kind"] == "Landmark extraction"
    assert row["lane"] == "long"
    lanes = next(d.value for d in at.dataframe if "lane" in d.value.columns and "queued" in d.value.columns)
    assert lanes.set_index("lane").loc["long", "queued"] == 1 and lanes.set_index("lane").loc["short", "queued"] == 0
    at.button(key="jobs_cancel").click().run()  # the local user is an admin: may cancel alice's job
    assert not at.exception
    job = queue.get(job_id)
    assert job.status == CANCELLED and job.started_at is None


def test_jobs_page_shows_workers_and_what_they_run(app_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("START_WORKER", "false")
    get_settings.cache_clear()
    queue = JobQueue(get_settings())
    with acting_as(User("alice@example.org", Role.TRAINER)):
        job_id = queue.submit(EXTRACTION, {})
    queue.worker_alive("box:42:abc", "box", 42, ())
    assert queue.claim("box:42:abc/1") is not None
    assert queue.where(queue.get(job_id)) == "running in the long lane on worker box:42:abc/1"
    at = AppTest.from_file(str(ROOT / "pages" / "9_Jobs.py"), default_timeout=60).run()
    assert not at.exception
    workers = next(d.value for d in at.dataframe if "worker" in d.value.columns and "pid" in d.value.columns)
    [row] = workers.to_dict("records")
    assert row["worker"] == "box:42:abc" and row["state"] == "alive" and row["running jobs"] == str(job_id)
    jobs = next(d.value for d in at.dataframe if "id" in d.value.columns)
    assert jobs[jobs["id"] == job_id].iloc[0]["worker"] == "box:42:abc/1"
