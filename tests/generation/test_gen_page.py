"""AppTest of the Generate page, with and without a key, against the fake Gemini server and a real store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.generation.jobs import JobStore
from core.schema import GEN_DONE, GEN_FAILED, GEN_RUNNING
from core.settings import Settings, get_settings
from core.store import Store
from tests.fakes.gemini_server import FakeGemini, Reply

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "3_Generate.py")
KEY = "AIzaFAKE-page-key-0042"


def small_form(at: AppTest) -> AppTest:
    at.text_area(key="gen_ages").set_value("20-29")
    at.text_area(key="gen_sexes").set_value("woman")
    at.text_area(key="gen_ethnicities").set_value("Black")
    at.multiselect(key="gen_emotions").set_value(["happy", "disgust", "surprise"])
    at.checkbox(key="gen_extract").set_value(False)
    return at.run()


def wait_settled(store: Store, job_id: int, total: int, timeout: float = 30) -> dict[str, int]:
    jobs = JobStore(store)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = jobs.counts(job_id)
        if counts[GEN_DONE] + counts[GEN_FAILED] == total:
            return counts
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {jobs.counts(job_id)}")


def wait_thread_end(at: AppTest, job_id: int, timeout: float = 60) -> None:
    """Wait until no run (a job of the queue, in a worker or in the page's process) is active on the job."""
    from ui.generate_page import active_run

    deadline = time.monotonic() + timeout
    while active_run(job_id) is not None:
        assert time.monotonic() < deadline, "the generation run did not end"
        time.sleep(0.1)


def test_without_a_key_the_page_explains_and_disables_the_run(app_env: Settings) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("GEMINI_API_KEY" in i.value for i in at.info)
    assert at.button(key="gen_start").disabled
    at = small_form(at)
    assert "3 images" in at.markdown[0].value and "$" in at.markdown[0].value  # the preview still works
    # Every prompt whole, wrapped (a table cell cut them off).
    assert len(at.code) == 3 and all(len(c.value) > 150 and c.value.rstrip().endswith(".") for c in at.code)
    at.text_area(key="gen_ages").set_value("90-30").run()
    assert any("ages" in e.value for e in at.error)  # the wrong field is named


@pytest.fixture
def keyed_env(app_env: Settings, fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_BASE_URL", fake_gemini.base_url)
    monkeypatch.setenv("GEMINI_MAX_RETRIES", "1")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_with_a_key_start_shows_progress_gallery_failures_and_retry(
    keyed_env: Settings,
    fake_gemini: FakeGemini,
) -> None:
    fake_gemini.on("nose wrinkled", Reply.safety())  # the first disgust request is refused, a retry succeeds
    at = small_form(AppTest.from_file(PAGE, default_timeout=60).run())
    assert not at.exception and not at.button(key="gen_start").disabled
    at.button(key="gen_start").click().run()
    assert not at.exception
    job_id = at.session_state["gen_job"]
    store = Store(keyed_env)
    counts = wait_settled(store, job_id, 3)
    wait_thread_end(at, job_id)
    assert counts[GEN_DONE] == 2 and counts[GEN_FAILED] == 1

    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Done"] == "2" and metrics["Failed"] == "1"
    assert len(at.get("image")) == 2  # the live gallery shows the new images
    failures = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert "safety filter" in failures["reason"].iloc[0]
    assert at.button(key="gen_resume").disabled  # nothing pending

    at.button(key="gen_retry").click().run()
    assert not at.exception
    assert wait_settled(store, job_id, 3)[GEN_DONE] == 3
    wait_thread_end(at, job_id)
    at.run()
    assert {m.label: m.value for m in at.metric}["Done"] == "3"
    shown = [e.value for group in (at.error, at.info, at.markdown, at.caption, at.text_input) for e in group]
    assert KEY not in str(shown)


def test_a_key_typed_into_the_page_is_used_for_the_session_only(
    app_env: Settings,
    fake_gemini: FakeGemini,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEMINI_BASE_URL", fake_gemini.base_url)
    get_settings.cache_clear()
    at = small_form(AppTest.from_file(PAGE, default_timeout=60).run())
    assert at.button(key="gen_start").disabled
    at.text_input(key="gen_api_key").input(KEY).run()
    assert not at.button(key="gen_start").disabled
    at.button(key="gen_start").click().run()
    job_id = at.session_state["gen_job"]
    store = Store(get_settings())
    assert wait_settled(store, job_id, 3)[GEN_DONE] == 3
    wait_thread_end(at, job_id)
    assert fake_gemini.requests[0].headers["x-goog-api-key"] == KEY
    for path in Path(app_env.data_root).rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    get_settings.cache_clear()


def test_cancel_then_resume_from_the_page(
    keyed_env: Settings, fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_gemini.latency_s = 0.5
    monkeypatch.setenv("GEMINI_CONCURRENCY", "1")
    get_settings.cache_clear()
    at = small_form(AppTest.from_file(PAGE, default_timeout=60).run())
    at.button(key="gen_start").click().run()
    job_id = at.session_state["gen_job"]
    assert not at.button(key="gen_cancel").disabled and at.button(key="gen_resume").disabled
    at.button(key="gen_cancel").click().run()
    wait_thread_end(at, job_id)
    store = Store(get_settings())
    counts = JobStore(store).counts(job_id)
    assert counts[GEN_DONE] < 3 and counts[GEN_RUNNING] == 0  # stopped early, nothing left half-done

    fake_gemini.latency_s = 0.0
    at.run()
    assert "stopped" in at.get("progress")[0].proto.text
    at.button(key="gen_resume").click().run()
    assert wait_settled(store, job_id, 3)[GEN_DONE] == 3
    wait_thread_end(at, job_id)
    get_settings.cache_clear()


def test_a_template_file_fills_the_form(app_env: Settings) -> None:
    example = Path(PAGE).parents[1] / "templates" / "example_template.json"
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.file_uploader(key="gen_template_file").upload("t.json", example.read_bytes(), "application/json").run()
    assert not at.exception and not at.error
    assert "61-75" in at.text_area(key="gen_ages").value and at.radio(key="gen_expansion").value == "sample"
    assert "96 images" in at.markdown[0].value
    at.file_uploader(key="gen_template_file").set_value(("bad.json", b'{"emotions": ["bored"]}', "application/json"))
    at.run()
    assert any("bad.json" in e.value and "emotions" in e.value for e in at.error)
    assert "96 images" in at.markdown[0].value  # the form keeps what it had
