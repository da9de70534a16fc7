"""The landmark model zoo on real MediaPipe landmarks: fit and predict, determinism, data checks, registry."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelFileCorrupt, ModelMismatch, TrainingDataError
from core.features import FEATURE_VERSION
from core.inference import ExpressionModel, Recognizer
from core.landmarks.extractor import LandmarkExtractor
from core.models.registry import Registry
from core.records import FaceData
from core.training.compare import ComparisonResult, compare_models
from core.training.data import TrainingData
from core.training.landmark_artifact import LandmarkModel, save_comparison, save_report
from core.training.report import ModelReport
from core.training.zoo import make_model

FAST = {
    "random_forest": {"clf__n_estimators": [20], "clf__min_samples_leaf": [1, 2]},
    "svm": {"clf__C": [1.0, 10.0]},
    "mlp": {"clf__hidden_layer_sizes": [[16]], "clf__max_iter": [200]},
}


def test_three_models_fit_and_report(variant_data: TrainingData) -> None:
    steps: list[str] = []
    result = compare_models(
        variant_data,
        feature_sets=["geometry", "blendshapes"],
        grids=FAST,
        folds=3,
        progress=lambda d, t, m: steps.append(m),
    )
    assert [r.name for r in result.reports] == ["random_forest", "svm", "mlp"]
    assert result.classes == ["happy", "surprise"]  # EMOTIONS order
    assert steps[-1] == "done" and any("svm" in s for s in steps)
    # Each fit of the search is reported: candidate, fold and an estimate of the time left.
    assert "tuning svm (2/3): candidate 1/2, fold 1/3" in "\n".join(steps)
    assert any(s.startswith("tuning mlp (3/3): candidate 1/1, fold 3/3, about") and s.endswith("left") for s in steps)
    for report in result.reports:
        # Two clear-cut expressions: every model beats chance (0.5 macro-F1) on average over the folds.
        assert report.cv_mean > 0.5 and report.cv_std >= 0, (report.name, report.cv_mean, report.cv_std)
        assert report.n_train + report.n_test == len(variant_data)
        assert sum(map(sum, report.confusion_matrix)) == report.n_test
        assert set(report.per_class) == {"happy", "surprise"}
        assert report.best_params and report.fit_time_s > 0 and report.predict_ms_per_sample > 0
        proba = result.pipelines[report.name].predict_proba(variant_data.x)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert result.best is not None


def test_same_seed_same_result(variant_data: TrainingData) -> None:
    a = compare_models(variant_data, models=["random_forest", "mlp"], grids=FAST, folds=3, seed=7)
    b = compare_models(variant_data, models=["random_forest", "mlp"], grids=FAST, folds=3, seed=7)
    for ra, rb in zip(a.reports, b.reports, strict=True):
        assert (ra.cv_mean, ra.macro_f1, ra.best_params) == (rb.cv_mean, rb.macro_f1, rb.best_params)
        np.testing.assert_array_equal(
            a.pipelines[ra.name].predict_proba(variant_data.x), b.pipelines[rb.name].predict_proba(variant_data.x)
        )


def test_refuses_one_class_and_too_few_per_class(variant_data: TrainingData) -> None:
    happy = variant_data.subset(variant_data.y == "happy")
    with pytest.raises(TrainingDataError, match="at least two emotions"):
        compare_models(happy, folds=3)
    keep = (variant_data.y == "happy") | (np.cumsum(variant_data.y == "surprise") <= 2)
    with pytest.raises(TrainingDataError, match=r"too few: surprise \(2\)"):
        compare_models(variant_data.subset(keep), folds=3)


def test_unknown_model_lists_valid_names(variant_data: TrainingData) -> None:
    with pytest.raises(ValueError, match="valid: random_forest, svm, mlp"):
        make_model("xgboost")
    with pytest.raises(ValueError, match="unknown model"):
        compare_models(variant_data, models=["svm", "xgboost"])


def test_person_groups_never_cross_folds(variant_data: TrainingData) -> None:
    groups = np.asarray([f"p{i // 2}" for i in range(len(variant_data))])
    data = TrainingData(variant_data.x, variant_data.y, groups=groups, data_hash="g")
    result = compare_models(data, models=["svm"], grids=FAST, folds=2)
    assert "by person" in result.reports[0].cv


def test_registry_round_trip_and_refusals(
    variant_data: TrainingData, variant_faces: list[tuple[bytes, FaceData, str]], models_dir: Path
) -> None:
    registry = Registry(models_dir)
    result = compare_models(variant_data, models=["svm", "random_forest"], grids=FAST, folds=3)
    saved = save_comparison(registry, result, data_sources=["imported"])
    best = result.best
    assert best is not None and registry.active_id() is None  # saving never activates: promotion decides
    assert {c.id for c in registry.list()} == {c.id for c in saved.values()}

    card = saved["svm"]
    assert card.kind == "landmark" and card.feature_version == FEATURE_VERSION and card.data_hash == "test"
    assert card.metrics["macro_f1"] == result.reports[0].macro_f1 and "artifact_sha256" in card.params
    model = registry.load(card.id, expect_classes=["happy", "surprise"], expect_feature_version=FEATURE_VERSION)
    assert isinstance(model, LandmarkModel) and isinstance(model, ExpressionModel) and model.needs_landmarks
    np.testing.assert_allclose(
        model.predict_proba(variant_data.x), result.pipelines["svm"].predict_proba(variant_data.x), atol=1e-9
    )
    faces = [f for _, f, _ in variant_faces[:3]]
    preds = model.predict_faces(np.zeros((4, 4, 3), np.uint8), faces)
    assert [p.box for p in preds] == [f.bbox for f in faces]
    assert all(p.emotion in ("happy", "surprise") and 0.5 <= p.confidence <= 1.0 for p in preds)

    with pytest.raises(ModelMismatch, match="predicts"):
        registry.load(card.id, expect_classes=["happy", "sad"])
    folder = registry.folder(card.id)
    raw = json.loads((folder / "card.json").read_text())
    (folder / "card.json").write_text(json.dumps({**raw, "feature_version": FEATURE_VERSION + 1}))
    with pytest.raises(ModelMismatch, match="feature version"):
        registry.load(card.id)
    (folder / "card.json").write_text(json.dumps({**raw, "classes": ["happy", "sad"]}))
    with pytest.raises(ModelMismatch, match="classes"):
        registry.load(card.id)
    (folder / "card.json").write_text(json.dumps(raw))
    (folder / "model.joblib").write_bytes(b"not a model")
    with pytest.raises(ModelFileCorrupt, match="sha256"):
        registry.load(card.id)


def test_recognizer_runs_a_saved_model_on_a_photo(
    variant_data: TrainingData, astronaut_rgb: np.ndarray, models_dir: Path
) -> None:
    registry = Registry(models_dir)
    result = compare_models(variant_data, models=["svm"], grids=FAST, folds=3)
    card = save_comparison(registry, result)["svm"]
    with LandmarkExtractor(mode="image") as extractor:
        faces = Recognizer(registry.load(card.id), extractor).predict(astronaut_rgb)
    assert len(faces) == 1 and faces[0].emotion in ("happy", "surprise")
    assert faces[0].landmarks is not None and faces[0].landmarks.shape == (478, 3)


def test_store_test_rows_are_the_held_out_set(variant_data: TrainingData) -> None:
    held = np.zeros(len(variant_data), dtype=bool)
    held[:2] = True  # one happy, one surprise
    data = TrainingData(variant_data.x, variant_data.y, held_out=held, data_hash="h")
    result = compare_models(data, models=["svm"], grids=FAST, folds=3)
    report = result.reports[0]
    assert result.holdout == "the store's test set" and report.n_test == 2 and report.n_train == len(data) - 2


def test_finished_models_survive_an_interrupt_and_cancel_stops_between_models(
    variant_data: TrainingData, models_dir: Path
) -> None:
    registry = Registry(models_dir)

    def save_then_interrupt(result: ComparisonResult, report: ModelReport) -> None:
        save_report(registry, result, report)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compare_models(variant_data, models=["svm", "mlp"], grids=FAST, folds=3, on_model=save_then_interrupt)
    assert [c.name for c in registry.list()] == ["svm"]
    registry.load(registry.list()[0].id)  # complete and loadable

    cancel = threading.Event()
    result = compare_models(
        variant_data, models=["svm", "mlp"], grids=FAST, folds=3, cancel=cancel, on_model=lambda r, m: cancel.set()
    )
    assert result.cancelled and [r.name for r in result.reports] == ["svm"]


def test_thorough_preset_searches_big_grids_by_successive_halving(variant_data: TrainingData) -> None:
    # Enough rows for halving: the real faces repeated with a little landmark jitter.
    rng = np.random.default_rng(0)
    x = np.repeat(variant_data.x, 8, axis=0)
    x[:, :1434] += rng.normal(0, 2e-3, size=(len(x), 1434)).astype(np.float32)
    bigger = TrainingData(x, np.repeat(variant_data.y, 8), data_hash="jitter")
    report = compare_models(bigger, models=["svm"], preset_name="thorough", folds=3).reports[0]
    assert report.extra == {"search": "successive halving", "candidates": 20}
    assert set(report.best_params) == {"clf__C", "clf__gamma"}
    # Too few faces for halving's first round: the same grid is searched exhaustively instead of failing.
    small = compare_models(variant_data, models=["svm"], preset_name="thorough", folds=3).reports[0]
    assert small.extra == {"search": "grid", "candidates": 20}
