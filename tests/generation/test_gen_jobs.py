"""Jobs against the fake server and a real SQLite store: results, failures, resume, cancellation, secrets."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.auth import LOCAL_USER, acting_as
from core.db import session_scope
from core.gemini.ratelimit import RetryPolicy
from core.generation.jobs import JobStore
from core.generation.kinds import GENERATION
from core.generation.runner import JobRunner, RunReport
from core.generation.templates import GenerationTemplate
from core.jobs import JobQueue
from core.jobs.queue import JobAlreadyActive
from core.jobs.tables import JobRow
from core.schema import GEN_DONE, GEN_FAILED, GEN_PENDING, GEN_RUNNING
from core.settings import Settings
from core.store import Store
from core.store.tables import ImageRecord
from tests.fakes.gemini_server import FakeGemini, Reply

KEY = "AIzaFAKE-never-store-me-93c1"
FAST = RetryPolicy(max_retries=3, base_delay_s=0.01, max_delay_s=0.05, timeout_s=10)


def template(**kw: object) -> GenerationTemplate:
    base: dict[str, object] = {
        "name": "t",
        "ages": ["20-29", "60-69"],
        "sexes": ["woman"],
        "ethnicities": ["East Asian"],
        "emotions": ["happy", "disgust", "surprise"],
        "output_size": 128,
    }
    base.update(kw)
    return GenerationTemplate.model_validate(base)


@pytest.fixture
def gen_settings(settings: Settings, fake_gemini: FakeGemini) -> Settings:
    return settings.model_copy(update={"gemini_base_url": fake_gemini.base_url})


def run(store: Store, settings: Settings, job_id: int, **kw: object) -> RunReport:
    kw.setdefault("policy", FAST)
    runner = JobRunner(job_id, store=store, settings=settings, api_key=KEY, **kw)  # type: ignore[arg-type]
    return asyncio.run(runner.run())


def generated(store: Store) -> list[ImageRecord]:
    return [r for r in store.list_images() if r.source == "generated"]


def test_a_job_stores_labeled_images_and_records_failures(
    store: Store,
    gen_settings: Settings,
    fake_gemini: FakeGemini,
) -> None:
    fake_gemini.on("nose wrinkled", Reply.safety(), then=Reply.safety())  # every disgust prompt is refused
    fake_gemini.enqueue(Reply.error(429))  # one transient error on the way
    jobs = JobStore(store)
    job_id = jobs.create_job(template(), model="gemini-2.5-flash-image")
    seen: list[tuple[int, int, str]] = []
    report = run(store, gen_settings, job_id, progress=lambda *event: seen.append(event))

    assert (report.generated, report.failed) == (4, 2)
    assert jobs.counts(job_id) == {GEN_PENDING: 0, GEN_RUNNING: 0, GEN_DONE: 4, GEN_FAILED: 2}
    assert seen[-1][:2] == (6, 6) and seen[-1][2].startswith("4 done, 2 failed")
    assert jobs.recent_rate(job_id) > 0 and jobs.recent_rate(job_id, window_s=0) == 0
    failures = jobs.items(job_id, states=[GEN_FAILED])
    assert {f.emotion for f in failures} == {"disgust"}
    assert all("safety filter" in f.reason for f in failures)

    records = generated(store)
    assert len(records) == 4
    items = {i.image_id: i for i in jobs.items(job_id, states=[GEN_DONE])}
    for rec in records:
        item = items[rec.id]
        assert rec.emotion == item.emotion and rec.label_source == "prompt" and rec.status == "train"
        assert rec.person == item.persona and rec.person.startswith("gen-")
        assert rec.original_name == item.file_name and rec.original_name.startswith(f"{rec.emotion}_")
        assert (rec.sex, rec.ethnicity) == ("woman", "East Asian") and rec.age in {"20-29", "60-69"}
        assert rec.attributes["prompt"] == item.prompt and rec.attributes["generation_job"] == job_id
        assert max(rec.width, rec.height) <= 128  # resized to the template's output size
        assert store.absolute_path(rec).is_file()


def test_rerun_does_only_what_is_missing_and_retry_failed_completes(
    store: Store,
    gen_settings: Settings,
    fake_gemini: FakeGemini,
) -> None:
    fake_gemini.on("nose wrinkled", Reply.error(400, "bad prompt"))  # only the first disgust request fails
    jobs = JobStore(store)
    job_id = jobs.create_job(template(), model="m")
    assert run(store, gen_settings, job_id).failed == 1
    calls = len(fake_gemini.requests)

    # The same template maps onto the same job; a second run has nothing to do.
    assert jobs.create_job(template(), model="m") == job_id
    again = run(store, gen_settings, job_id)
    assert (again.generated, again.failed, len(fake_gemini.requests)) == (0, 0, calls)

    assert jobs.retry_failed(job_id) == 1
    final = run(store, gen_settings, job_id)
    assert final.generated == 1 and jobs.counts(job_id)[GEN_DONE] == 6
    records = generated(store)
    assert len(records) == 6 and len({r.original_name for r in records}) == 6
    assert jobs.create_job(template(), model="m", new=True) != job_id


def test_cancel_mid_job_then_resume_loses_nothing(
    store: Store,
    gen_settings: Settings,
    fake_gemini: FakeGemini,
) -> None:
    fake_gemini.latency_s = 1.5  # far longer than a cancel takes, so "cut short" shows on a slow machine too
    jobs = JobStore(store)
    job_id = jobs.create_job(template(sexes=["woman", "man"]), model="m")  # 12 items
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def cancel_after_two(done: int, total: int, message: str = "", /) -> None:
        if done >= 2 and not cancel.is_set():
            cancelled_at.append(time.monotonic())
            threading.Thread(target=cancel.set).start()  # from another thread, as the page does

    first = run(store, gen_settings, job_id, concurrency=2, cancel=cancel, progress=cancel_after_two)
    # The calls in flight (1.5 s each) were cut short rather than awaited.
    assert first.cancelled and time.monotonic() - cancelled_at[0] < 1.0
    counts = jobs.counts(job_id)
    assert counts[GEN_RUNNING] == 0 and 0 < counts[GEN_PENDING] < 12
    assert counts[GEN_DONE] == len(generated(store))

    fake_gemini.latency_s = 0.0
    second = run(store, gen_settings, job_id, concurrency=4)
    assert not second.cancelled and jobs.counts(job_id)[GEN_DONE] == 12
    records = generated(store)
    assert len(records) == 12 and len({r.original_name for r in records}) == 12


def test_recover_completes_an_item_whose_image_was_stored_before_a_crash(
    store: Store,
    gen_settings: Settings,
    fake_gemini: FakeGemini,
) -> None:
    jobs = JobStore(store)
    job_id = jobs.create_job(template(emotions=["happy"]), model="m")
    run(store, gen_settings, job_id)
    victim = jobs.items(job_id)[0]
    # The crash window: the image row is committed but the item still says running.
    jobs._set(victim.id, state=GEN_RUNNING, image_id=None)
    calls = len(fake_gemini.requests)
    report = run(store, gen_settings, job_id)
    assert report.recovered == 1 and report.generated == 0 and len(fake_gemini.requests) == calls
    assert jobs.items(job_id)[0].image_id == victim.image_id and len(generated(store)) == 2


def test_the_api_key_never_reaches_logs_files_or_the_database(
    store: Store,
    gen_settings: Settings,
    fake_gemini: FakeGemini,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rejected = Reply.error(403, f"API key {KEY} was rejected")
    fake_gemini.on("nose wrinkled", rejected, then=rejected)
    fake_gemini.enqueue(Reply.error(503, f"key={KEY}"))
    caplog.set_level(logging.DEBUG)
    jobs = JobStore(store)
    job_id = jobs.create_job(template(), model="m")
    report = run(store, gen_settings, job_id)
    assert report.failed == 2 and fake_gemini.requests[0].headers["x-goog-api-key"] == KEY
    assert "***" in jobs.items(job_id, states=[GEN_FAILED])[0].reason
    assert KEY not in caplog.text
    files = [p for p in Path(gen_settings.data_root).rglob("*") if p.is_file()]
    assert any(p.name.startswith("studio.db") for p in files)
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path


def test_landmarks_follow_automatically(
    store: Store,
    gen_settings: Settings,
    fake_gemini: FakeGemini,
) -> None:
    jobs = JobStore(store)
    job_id = jobs.create_job(template(ages=["30-39"], emotions=["happy", "sad"], output_size=256), model="m")
    report = run(store, gen_settings, job_id, extract_landmarks=True)
    assert report.extracted == 2
    assert store.extraction_counts().get("ok") == 2  # the fake serves a real face photo


def test_an_answer_that_is_not_an_image_fails_only_its_item(
    store: Store,
    gen_settings: Settings,
    fake_gemini: FakeGemini,
) -> None:
    fake_gemini.enqueue(Reply.image(b"not an image at all"))
    jobs = JobStore(store)
    job_id = jobs.create_job(template(), model="m")
    report = run(store, gen_settings, job_id)
    assert (report.generated, report.failed) == (5, 1)
    assert "not a usable image" in jobs.items(job_id, states=[GEN_FAILED])[0].reason
    records = generated(store)
    assert len(records) == 5 and all(r.label_source == "prompt" and r.person for r in records)
    assert {i.image_id for i in jobs.items(job_id, states=[GEN_DONE])} == {r.id for r in records}


def test_one_run_per_generation(store: Store, gen_settings: Settings, fake_gemini: FakeGemini) -> None:
    """A run of a generation is a job of the main queue; its kind's exclusive key refuses a second run of the same
    generation while one is queued or running, and a run whose process died on this machine does not block."""

    jobs = JobStore(store)
    first, second = jobs.create_job(template(), model="m"), jobs.create_job(template(), model="m", new=True)
    queue = JobQueue(gen_settings)
    with acting_as(LOCAL_USER):
        running = queue.submit(GENERATION, {"generation_job_id": first}, claimed_by="elsewhere:1:x")
        with pytest.raises(JobAlreadyActive, match=f"job {running}"):
            queue.submit(GENERATION, {"generation_job_id": first}, claimed_by="another:1:y")
        queue.submit(GENERATION, {"generation_job_id": second})  # another generation: no conflict
    # The first run's process dies (its pid is gone): a new run starts at once, and the old one says why.
    dead = dead_pid()
    with session_scope(store.engine) as session:
        session.get(JobRow, running).worker_id = f"inline:{socket.gethostname()[:80]}:{dead}:x"  # type: ignore[union-attr]
    with acting_as(LOCAL_USER):
        again = queue.submit(GENERATION, {"generation_job_id": first})
    assert again != running
    old = queue.get(running)
    assert old.status == "failed" and f"its process {dead}" in old.error
    assert fake_gemini.requests == []


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
