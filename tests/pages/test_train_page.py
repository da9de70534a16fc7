"""AppTest of the Train page on a small real store (landmarks extracted by MediaPipe from real face photos)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sklearn.neighbors import KNeighborsClassifier
from streamlit.testing.v1 import AppTest

from core.models.registry import Registry
from core.records import FaceData
from core.settings import Settings
from core.store import Store
from core.training.kinds import LANDMARK_TRAINING
from tests.training.conftest import fill_store, save_landmark_model, wait_for_latest_job

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_Train.py")


def _train(at: AppTest, app_env: Settings) -> tuple[AppTest, dict[str, Any]]:
    """Click Train and compare, wait for the job the page queued (the worker process it started trains while the
    page stays responsive), then reload the page: it shows the results from the database."""
    at.button(key="train_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    job = wait_for_latest_job(app_env, LANDMARK_TRAINING, "training")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert job.result is not None
    return at, job.result


def test_empty_store_explains_what_to_do(app_env: Settings) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No labeled faces" in i.value for i in at.info)


@pytest.mark.slow
def test_train_compare_then_activate_by_hand_and_roll_back(
    app_env: Settings, variant_faces: list[tuple[bytes, FaceData, str]]
) -> None:
    fill_store(Store(app_env), variant_faces)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any(f"{len(variant_faces)} labeled faces with landmarks" in c.value for c in at.caption)
    assert at.checkbox(key="train_activate_best").value is False  # no activation unless asked for
    assert "suite chosen below" in str(at.checkbox(key="train_activate_best").help)  # not always the held-out split

    at.multiselect(key="train_models").set_value(["svm", "random_forest"]).run()
    at, result = _train(at, app_env)
    assert [r["name"] for r in result["reports"]] == ["svm", "random_forest"]
    registry = Registry(app_env.models_dir)
    assert registry.active_id() is None and not result["activated"]
    assert len(registry.list()) == 2
    assert result["comparison"]["candidate"]["model_id"] == result["best"]
    # No model was active: nothing "stays"; the better new model simply was not activated (not asked for).
    assert any("but was not activated" in i.value for i in at.info)
    versus = next(d.value for d in at.dataframe if f"new ({result['best']})" in d.value.columns)
    assert {"accuracy", "macro-F1"} <= set(versus.index)
    assert len(at.get("plotly_chart")) == 3  # comparison, per-class F1, confusion matrix

    at.button(key="train_activate_best_model").click().run()
    assert not at.exception and registry.active_id() == result["best"]
    [record] = registry.history()
    assert record.reason == "manual" and record.comparison is not None  # the saved comparison travels along

    # Activate the model shown in the confusion matrix from the results.
    shown = next(r for r in result["reports"] if r["model_id"] != result["best"])
    at.selectbox(key="train_cm_model").select(shown["name"]).run()
    at.button(key="train_activate_shown").click().run()
    assert not at.exception and registry.active_id() == shown["model_id"]

    # The Models tab lists the history, newest first, and rolls back to the model the last activation replaced.
    history = next(d.value for d in at.dataframe if "activated" in d.value.columns)
    assert list(history["activated"]) == [shown["model_id"], result["best"]]
    at.button(key="registry_rollback").click().run()
    assert not at.exception and registry.active_id() == result["best"]
    assert registry.history()[0].reason == "rollback"

    other = shown["model_id"]
    at.selectbox(key="registry_pick").select(other).run()
    at.button(key="registry_activate").click().run()
    assert not at.exception
    assert registry.active_id() == other


@pytest.mark.slow
def test_the_page_trains_the_face_api_hybrid_beside_the_others(
    app_env: Settings, variant_faces: list[tuple[bytes, FaceData, str]]
) -> None:
    fill_store(Store(app_env), variant_faces)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert "faceapi_blend" in at.multiselect(key="train_models").options
    at.multiselect(key="train_models").set_value(["faceapi_blend"]).run()
    assert any("not contempt" in c.value for c in at.caption)  # the page says what the network cannot predict
    _, result = _train(at, app_env)
    [report] = result["reports"]
    assert report["name"] == "faceapi_blend" and {"clf__C", "clf__weight"} <= set(report["best_params"])
    card = Registry(app_env.models_dir).card(report["model_id"])
    assert card.kind == "hybrid"


@pytest.mark.slow
def test_opt_in_activation_keeps_a_better_active_model(
    app_env: Settings, variant_faces: list[tuple[bytes, FaceData, str]]
) -> None:
    store = Store(app_env)
    fill_store(store, variant_faces)
    registry = Registry(app_env.models_dir)
    # A 1-nearest-neighbour model fitted on every face is right on every held-out face: nothing trained beats it.
    registry.activate(save_landmark_model(registry, store, KNeighborsClassifier(n_neighbors=1), "perfect"))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.multiselect(key="train_models").set_value(["random_forest"]).run()
    at.checkbox(key="train_activate_best").check().run()
    at, result = _train(at, app_env)
    assert not result["activated"] and registry.active_id() == "perfect"
    assert result["comparison"]["incumbent"]["model_id"] == "perfect"
    assert any("The active model perfect stays: it is better" in i.value for i in at.info)


def test_too_few_faces_of_an_emotion_is_said_before_training(
    app_env: Settings, variant_faces: list[tuple[bytes, FaceData, str]]
) -> None:
    happy = [v for v in variant_faces if v[2] == variant_faces[0][2]]
    other = [v for v in variant_faces if v[2] != variant_faces[0][2]][:2]  # two faces: too few for 3 folds + 1
    fill_store(Store(app_env), happy + other)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning if "Too few faces" in w.value]
    assert f"{other[0][2]} (2)" in warning and f"{happy[0][2]} (" not in warning
