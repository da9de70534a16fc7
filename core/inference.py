"""The prediction contract every model kind implements, and the recognizer that runs MediaPipe when needed.

Live detection, batch tests, `python -m core evaluate` and the REST API all predict through `Recognizer`, so
every model kind returns faces in the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from core.registry import ModelCard
from core.store.repository import FaceData


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


def top_prediction(box: tuple[float, float, float, float], classes: Sequence[str], proba: np.ndarray,
                   landmarks: np.ndarray | None = None) -> FacePrediction:
    """A FacePrediction from one row of class probabilities."""
    best = int(np.argmax(proba))
    return FacePrediction(
        box=box,
        emotion=str(classes[best]),
        confidence=float(proba[best]),
        probabilities={str(c): float(p) for c, p in zip(classes, proba, strict=True)},
        landmarks=landmarks,
    )
