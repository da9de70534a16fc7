"""Generation jobs on a real PostgreSQL server: claims, bulk done marks, recovery and leases are plain SQL there too."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.gemini.ratelimit import RetryPolicy
from core.generation.jobs import JobStore
from core.generation.runner import JobRunner
from core.generation.templates import GenerationTemplate
from core.schema import GEN_DONE, GEN_FAILED, GEN_RUNNING
from core.settings import Settings
from core.store import Store
from tests.fakes.gemini_server import FakeGemini, Reply
from tests.postgres import scratch_database


@pytest.fixture
def pg_settings(tmp_path: Path, fake_gemini: FakeGemini) -> Iterator[Settings]:
    with scratch_database() as url:
        yield Settings(  # type: ignore[call-arg]
            _env_file=None, data_root=tmp_path / "data", database_url=url, gemini_base_url=fake_gemini.base_url
        )


@pytest.mark.postgres
def test_a_job_with_failure_retry_and_recovery_on_postgres(pg_settings: Settings, fake_gemini: FakeGemini) -> None:
    fake_gemini.on("nose wrinkled", Reply.error(400, "bad prompt"))
    store = Store(pg_settings)
    jobs = JobStore(store)
    template = GenerationTemplate(
        ages=["20-29", "40-49"], sexes=["man"], ethnicities=["White"], emotions=["happy", "disgust"], output_size=96
    )
    job_id = jobs.create_job(template, model="m")
    policy = RetryPolicy(max_retries=1, base_delay_s=0.01, timeout_s=10)

    def run() -> None:
        asyncio.run(JobRunner(job_id, store=store, settings=pg_settings, api_key="k", policy=policy).run())

    run()
    assert jobs.counts(job_id)[GEN_DONE] == 3 and jobs.counts(job_id)[GEN_FAILED] == 1
    victim = jobs.items(job_id, states=[GEN_DONE])[0]
    jobs._set(victim.id, state=GEN_RUNNING, image_id=None)  # as if killed between storing and marking
    assert jobs.retry_failed(job_id) == 1
    run()
    items = jobs.items(job_id)
    assert all(i.state == GEN_DONE for i in items)
    assert len({i.image_id for i in items}) == 4 == len(store.list_images())
