"""The prediction contract every model kind implements, and the recognizer that runs MediaPipe when needed.

Live detection, batch tests, `python -m core evaluate` and the REST API all predict through `Recognizer`, so
every model kind returns faces in the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from core.landmarks.extractor import LandmarkExtractor
from core.records import FaceData
from core.registry import ModelCard


@dataclass
class FacePrediction:
    box: tuple[float, float, float, float]  # normalized x0, y0, x1, y1
    emotion: str
    confidence: float
    probabilities: dict[str, float]
    landmarks: np.ndarray | None = field(default=None, repr=False)  # (478, 3) when MediaPipe found the face

    def as_dict(self, model_id: str) -> dict[str, object]:
        return {
            "box": [round(float(v), 5) for v in self.box],
            "emotion": self.emotion,
            "confidence": round(float(self.confidence), 5),
            "probabilities": {k: round(float(v), 5) for k, v in self.probabilities.items()},
            "model_id": model_id,
        }


@runtime_checkable
class ExpressionModel(Protocol):
    """A loaded model. Landmark and ResNet models need MediaPipe faces; a detector finds its own."""

    card: ModelCard
    needs_landmarks: bool

    def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData]) -> list[FacePrediction]:
        """One prediction per face (for a detector: per detected face; `faces` is ignored)."""
        ...


def top_prediction(
    box: tuple[float, float, float, float],
    classes: Sequence[str],
    proba: np.ndarray,
    landmarks: np.ndarray | None = None,
) -> FacePrediction:
    """A FacePrediction from one row of class probabilities."""
    best = int(np.argmax(proba))
    return FacePrediction(
        box=box,
        emotion=str(classes[best]),
        confidence=float(proba[best]),
        probabilities={str(c): float(p) for c, p in zip(classes, proba, strict=True)},
        landmarks=landmarks,
    )


class Recognizer:
    """A model plus the MediaPipe landmarker it needs. One per thread or video stream (landmarkers are stateful)."""

    def __init__(self, model: ExpressionModel, extractor: LandmarkExtractor | None = None) -> None:
        if model.needs_landmarks and extractor is None:
            raise ValueError(f"model {model.card.id} needs landmarks: pass a LandmarkExtractor")
        self.model = model
        self.extractor = extractor

    @property
    def model_id(self) -> str:
        return self.model.card.id

    def predict(self, rgb: np.ndarray, *, timestamp_ms: int | None = None) -> list[FacePrediction]:
        """Faces and their expressions in an RGB uint8 image; `timestamp_ms` selects the extractor's VIDEO mode."""
        faces: Sequence[FaceData] = ()
        if self.model.needs_landmarks:
            assert self.extractor is not None
            if timestamp_ms is None:
                faces = self.extractor.detect_still(rgb)  # padded: tight crops are common in still images
            else:
                faces = self.extractor.detect_video(rgb, timestamp_ms)
            if not faces:
                return []
        return self.model.predict_faces(rgb, faces)
