"""AppTest of the Active Learning page on a real store, registry and the fake Gemini server."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.active_learning import approval
from core.active_learning.kinds import AL_POOL, AL_ROUND, LLM_LABELING
from core.active_learning.review_queue import build_queue, queue_items
from core.active_learning.rounds import make_held_out, retrain
from core.active_learning.scoring_model import load_scoring_model
from core.auth import LOCAL_USER
from core.imaging import encode_png
from core.jobs import JobQueue
from core.landmarks.batch import extract_store
from core.models.registry import Registry
from core.settings import Settings, get_settings
from core.store import Store
from tests.active_learning.helpers import add_labeled, fill_pool
from tests.fakes.gemini_server import FakeGemini, Reply

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "5_Active_Learning.py")


def _setup(settings: Settings, variants: list[np.ndarray]) -> Store:
    store = Store(settings)
    add_labeled(store, variants[6:])
    extract_store(store, workers=1)
    fill_pool(store, variants, n=4)
    make_held_out(store, fraction=0.34)
    registry = Registry(settings.models_dir)
    retrain(store, registry, feature_sets=["blendshapes"], activation="always")
    model_id, model = load_scoring_model(registry)
    build_queue(store, model, model_id=model_id, k=4, min_distance=0.0)
    return store


def _wait_job(kind: str, timeout: float = 120) -> None:
    queue = JobQueue(get_settings())
    deadline = time.monotonic() + timeout
    while (job := queue.latest(kind, LOCAL_USER.id)) is None or not job.finished:
        assert time.monotonic() < deadline, f"the {kind} job did not finish"
        time.sleep(0.2)
    assert job.status == "done", job.error


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.slow
def test_review_cards_undo_labeling_bulk_and_rounds(
    app_env: Settings, face_variants: list[np.ndarray], fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _setup(app_env, face_variants)
    first = queue_items(store)[0]
    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    assert f"Image #{first.image_id}" in " ".join(m.value for m in at.markdown)
    # No key: labeling is disabled with an explanation.
    assert at.button(key="al_label").disabled
    assert any("LLM labeling is disabled" in i.value for i in at.info)

    at.button(key="al_approve").click()  # no proposal yet: approves the model's prediction
    _run(at)
    record = store.get(first.image_id)
    assert record is not None and record.status == "train" and record.label_source == "model"
    assert approval.audit_log(store)[0].actor == LOCAL_USER.id  # local mode: the one implicit user, no name field
    assert not [t for t in at.text_input if t.key == "al_actor"]

    at.button(key="al_undo").click()
    _run(at)
    record = store.get(first.image_id)
    assert record is not None and record.status == "queued" and record.emotion is None

    at.button(key="al_correct_contempt").click()
    _run(at)
    record = store.get(first.image_id)
    assert record is not None and (record.emotion, record.label_source) == ("contempt", "human")
    assert approval.audit_log(store)[0].actor == LOCAL_USER.id
    audit = next(d.value for d in at.dataframe if "who" in d.value.columns)
    assert list(audit["who"][:3]) == [LOCAL_USER.id] * 3
    assert list(audit["action"][:3]) == ["correct", "undo", "approve (undone)"]

    # A key typed for this session enables labeling against the (fake) Gemini endpoint.
    monkeypatch.setenv("GEMINI_BASE_URL", fake_gemini.base_url)
    get_settings.cache_clear()
    fake_gemini.default = Reply.json_text({"emotion": "surprise", "confidence": 0.97, "rationale": "raised brows"})
    at.text_input(key="al_api_key").input("typed-session-key-123")
    _run(at)
    at.button(key="al_label").click()
    _run(at)
    _wait_job(LLM_LABELING)  # a job run in the page's process: the typed key never leaves its memory
    _run(at)
    assert any("3 proposals, 0 failures" in s.value for s in at.success)
    assert "raised brows" in " ".join(c.value for c in at.caption)
    assert fake_gemini.requests and fake_gemini.requests[0].headers.get("x-goog-api-key") == "typed-session-key-123"

    at.button(key="al_reject").click()
    _run(at)
    at.slider(key="al_bulk_threshold").set_value(0.5)
    at.button(key="al_bulk").click()
    _run(at)
    assert any(s.value.startswith("Approved") for s in at.success)

    at.button(key="al_retrain").click()
    _run(at)
    _wait_job(AL_ROUND)  # run by the worker process the page started
    _run(at)
    assert any("Round" in s.value and "macro-F1" in s.value for s in at.success), [e.value for e in at.error]
    assert at.get("plotly_chart")


def test_empty_store_explains_what_to_do(app_env: Settings) -> None:
    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    texts = " ".join(i.value for i in at.info)
    assert "No model yet" in texts and "The queue is empty" in texts and "fixed held-out set" in texts


def test_a_server_folder_goes_into_the_pool_through_a_job(
    app_env: Settings, face_variants: list[np.ndarray], tmp_path: Path
) -> None:
    folder = tmp_path / "unlabeled"
    folder.mkdir()
    for i in range(2):
        (folder / f"u{i}.png").write_bytes(encode_png(face_variants[i]))
    (folder / "junk.png").write_bytes(b"no image here")
    at = _run(AppTest.from_file(PAGE, default_timeout=60))
    at.text_input(key="al_folder").input(str(folder)).run()
    at.button(key="al_folder_import").click().run()
    assert not at.exception
    _wait_job(AL_POOL)  # a worker imports the folder and extracts its landmarks; the page only follows it
    at = _run(AppTest.from_file(PAGE, default_timeout=60))  # a reload finds the job and its result
    captions = " ".join(c.value for c in at.caption)
    assert "Pool import: 2 added" in captions and "landmarks: 2 faces" in captions
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pool images"] == "2" and metrics["With a face"] == "2"
