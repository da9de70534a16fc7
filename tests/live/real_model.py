"""A small REAL expression model for tests: logistic regression on blendshapes that MediaPipe extracts from faces.

It implements the `ExpressionModel` protocol exactly as trained models do, so the live path, the API and the batch
page are exercised end to end without waiting for a trained model. The photos all smile, so they are the "happy"
samples; "neutral" samples are the same real blendshape vectors with the smile channels turned down. The model thus
learns a real, checkable rule: a smiling face is happy, the same face without the smile is neutral.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from core.inference import FacePrediction, top_prediction
from core.landmarks.extractor import LandmarkExtractor
from core.models.registry import ModelCard
from core.records import FaceData
from core.schema import BLENDSHAPE_NAMES
from core.settings import Settings

SMILE = [BLENDSHAPE_NAMES.index("mouthSmileLeft"), BLENDSHAPE_NAMES.index("mouthSmileRight")]


class BlendshapeModel:
    """ExpressionModel over the 52 blendshapes of each MediaPipe face."""

    needs_landmarks = True
    needs_pixels = False  # blendshapes only
    whole_image_fallback = False

    def __init__(self, clf: LogisticRegression, model_id: str = "test-blendshape-logreg") -> None:
        self.clf = clf
        self.card = ModelCard(id=model_id, kind="landmark", name="logreg", classes=[str(c) for c in clf.classes_])

    def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData]) -> list[FacePrediction]:
        if not faces:
            return []
        x = np.stack([f.blendshapes for f in faces]).astype(np.float64)
        proba = self.clf.predict_proba(x)
        return [top_prediction(f.bbox, self.card.classes, p, f.landmarks) for f, p in zip(faces, proba, strict=True)]


def fit_blendshape_model(images: Sequence[np.ndarray], settings: Settings | None = None) -> BlendshapeModel:
    with LandmarkExtractor(settings, mode="image") as ex:
        rows = [o.face.blendshapes for o in (ex.extract(img) for img in images) if o.face is not None]
    happy = np.stack(rows).astype(np.float64)
    neutral = happy.copy()
    neutral[:, SMILE] = np.random.default_rng(0).uniform(0.0, 0.15, size=(len(rows), len(SMILE)))
    x = np.vstack([happy, neutral])
    y = np.array(["happy"] * len(rows) + ["neutral"] * len(rows))
    return BlendshapeModel(LogisticRegression(C=100.0, max_iter=1000).fit(x, y))


_MODEL: list[BlendshapeModel] = []


def shared_model(images: Sequence[np.ndarray]) -> BlendshapeModel:
    """One fitted model per test session (fitting runs MediaPipe on a dozen photos)."""
    if not _MODEL:
        _MODEL.append(fit_blendshape_model(images))
    return _MODEL[0]


def save_registry_model(models_dir: Path, images: Sequence[np.ndarray], settings: Settings | None = None) -> ModelCard:
    """The same smile rule as a REAL registry model of kind "landmark" (the project's feature pipeline and loader),
    saved and activated in `models_dir`: for pages and servers that load models only through the registry."""
    from core.models.registry import Registry
    from core.records import FaceData
    from core.training.landmark_artifact import save_model
    from core.training.report import ModelReport
    from core.training.zoo import make_pipeline

    with LandmarkExtractor(settings, mode="image") as ex:
        happy = [o.face for o in (ex.extract(img) for img in images) if o.face is not None]
    rng = np.random.default_rng(0)
    neutral = []
    for face in happy:
        bs = face.blendshapes.copy()
        bs[SMILE] = rng.uniform(0.0, 0.15, size=len(SMILE))
        neutral.append(FaceData(face.landmarks, bs, face.transform, face.bbox))
    from core.features import faces_to_matrix

    x = faces_to_matrix(happy + neutral)
    y = np.array(["happy"] * len(happy) + ["neutral"] * len(neutral))
    pipeline = make_pipeline("logistic_regression", ["blendshapes"]).fit(x, y)
    report = ModelReport(
        name="logistic_regression", feature_sets=["blendshapes"], cv_mean=1.0, cv_std=0.0, accuracy=1.0,
        macro_f1=1.0, labels=["happy", "neutral"], confusion_matrix=[[len(happy), 0], [0, len(neutral)]],
        per_class={}, best_params={}, fit_time_s=0.0, predict_ms_per_sample=0.0, n_train=len(y), n_test=0,
    )  # fmt: skip
    registry = Registry(models_dir)
    card = save_model(registry, pipeline, report, classes=["happy", "neutral"], data_hash="test-smile-rule",
                      model_id="test-landmark-smile")  # fmt: skip
    registry.activate(card.id)
    return card
