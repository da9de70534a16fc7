"""AppTest of the Train page on a small real store (landmarks extracted by MediaPipe from real face photos)."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.auth import LOCAL_USER
from core.jobs import JobQueue
from core.jobs.kinds import LANDMARK_TRAINING
from core.records import FaceData
from core.registry import Registry
from core.settings import Settings
from core.store import Store
from tests.training.conftest import fill_store

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_Train.py")


def test_empty_store_explains_what_to_do(app_env: Settings) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No labeled faces" in i.value for i in at.info)


def test_train_compare_and_activate(app_env: Settings, variant_faces: list[tuple[bytes, FaceData, str]]) -> None:
    fill_store(Store(app_env), variant_faces)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any(f"{len(variant_faces)} labeled faces with landmarks" in c.value for c in at.caption)

    at.multiselect(key="train_models").set_value(["svm", "random_forest"]).run()
    at.button(key="train_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    # The page queued a job; the worker process it started trains while the page stays responsive.
    queue = JobQueue(app_env)
    deadline = time.monotonic() + 240
    while (job := queue.latest(LANDMARK_TRAINING, LOCAL_USER.id)) is None or not job.finished:
        assert time.monotonic() < deadline, "training did not finish in time"
        time.sleep(0.5)
    assert job.status == "done", job.error
    at = AppTest.from_file(PAGE, default_timeout=60).run()  # a reload shows the results from the database
    assert not at.exception
    result = job.result
    assert result is not None
    assert [r["name"] for r in result["reports"]] == ["svm", "random_forest"]
    registry = Registry(app_env.models_dir)
    assert registry.active_id() == result["best"]
    assert len(registry.list()) == 2
    assert any("was made active" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) == 3  # comparison, per-class F1, confusion matrix

    # Activate the model shown in the confusion matrix from the results, then another one from the Models tab.
    shown = next(r for r in result["reports"] if r["model_id"] != result["best"])
    at.selectbox(key="train_cm_model").select(shown["name"]).run()
    at.button(key="train_activate_shown").click().run()
    assert not at.exception and registry.active_id() == shown["model_id"]

    other = result["best"]
    at.selectbox(key="registry_pick").select(other).run()
    at.button(key="registry_activate").click().run()
    assert not at.exception
    assert registry.active_id() == other
