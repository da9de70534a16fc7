"""A small REAL expression model for tests: logistic regression on blendshapes that MediaPipe extracts from faces.

It implements the `ExpressionModel` protocol exactly as trained models do, so the live path, the API and the batch
page are exercised end to end without waiting for a trained model. The photos all smile, so they are the "happy"
samples; "neutral" samples are the same real blendshape vectors with the smile channels turned down. The model thus
learns a real, checkable rule: a smiling face is happy, the same face without the smile is neutral.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from core.inference import FacePrediction, top_prediction
from core.landmarks.extractor import LandmarkExtractor
from core.registry import ModelCard
from core.schema import BLENDSHAPE_NAMES
from core.settings import Settings
from core.store.repository import FaceData

SMILE = [BLENDSHAPE_NAMES.index("mouthSmileLeft"), BLENDSHAPE_NAMES.index("mouthSmileRight")]


class BlendshapeModel:
    """ExpressionModel over the 52 blendshapes of each MediaPipe face."""

    needs_landmarks = True

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
