"""The prediction contract every model kind implements, and the recognizer that runs MediaPipe when needed.

Live detection, batch tests, `python -m core evaluate`, the REST API and active-learning scoring all predict through
`Recognizer`, so a new model kind plugs in here once and every model kind returns faces in the same shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from core.landmarks.extractor import LandmarkExtractor
from core.models.registry import ModelCard
from core.records import FaceData

# The largest still image treated as a possible tight face crop when MediaPipe finds no face (see Recognizer).
WHOLE_IMAGE_FALLBACK_MAX_SIDE = 400


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
    """A loaded model. Landmark and ResNet models need MediaPipe faces; a detector finds its own.

    `needs_pixels` is False when the model predicts from the faces alone (landmark models): scoring stored faces
    (`Recognizer.predict_stored`) then skips decoding the images. `whole_image_fallback` is True when the model can
    answer for a small still image in which MediaPipe found no face (face-api's network reads it as the crop). Every
    kind declares all three.
    """

    card: ModelCard
    needs_landmarks: bool
    needs_pixels: bool

    @property
    def whole_image_fallback(self) -> bool: ...

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


def main_face(predictions: Sequence[FacePrediction]) -> FacePrediction | None:
    """The largest face: the one a one-label-per-image consumer (batch test, pool scoring) keeps."""
    if not predictions:
        return None
    return max(predictions, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


class Recognizer:
    """A model plus the MediaPipe landmarker it needs. One per thread or video stream (landmarkers are stateful).

    `extractor` may be None for a model that needs landmarks when only stored faces are scored (`predict_stored`).
    """

    def __init__(self, model: ExpressionModel, extractor: LandmarkExtractor | None = None) -> None:
        self.model = model
        self.extractor = extractor

    @property
    def model_id(self) -> str:
        return self.model.card.id

    @property
    def classes(self) -> list[str]:
        return list(self.model.card.classes)

    def predict(self, rgb: np.ndarray, *, timestamp_ms: int | None = None) -> list[FacePrediction]:
        """Faces and their expressions in an RGB uint8 image; `timestamp_ms` selects the extractor's VIDEO mode."""
        faces: Sequence[FaceData] = ()
        if self.model.needs_landmarks:
            if self.extractor is None:
                raise ValueError(f"model {self.model_id} needs landmarks: pass a LandmarkExtractor")
            if timestamp_ms is None:
                faces = self.extractor.detect_still(rgb)  # padded: tight crops are common in still images
            else:
                faces = self.extractor.detect_video(rgb, timestamp_ms)
            if not faces and not (timestamp_ms is None and self._whole_image_fallback(rgb)):
                return []
        return self._predict_faces(rgb, faces)

    def _whole_image_fallback(self, rgb: np.ndarray) -> bool:
        """A still image small enough to be a tight face crop (a 48 px lab portrait, a cut-out face) where MediaPipe
        found no face even upscaled: a model that can (face-api's network) answers for the whole image. Never for
        video frames or larger photos, where no face means no face."""
        small = max(rgb.shape[:2]) <= WHOLE_IMAGE_FALLBACK_MAX_SIDE
        return small and self.model.whole_image_fallback

    def _predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData]) -> list[FacePrediction]:
        predictions = self.model.predict_faces(rgb, faces)
        if self.model.needs_landmarks and len(predictions) == len(faces):
            # Every consumer (the Live mesh, the API) finds the landmarks on the prediction, whatever the model kind.
            for pred, face in zip(predictions, faces, strict=True):
                if pred.landmarks is None:
                    pred.landmarks = face.landmarks
        return predictions

    def predict_stored(
        self, faces: Sequence[FaceData | None], load_rgb: Callable[[int], np.ndarray]
    ) -> list[FacePrediction | None]:
        """The main-face prediction of each stored image, given the face its extraction found (None: none found).

        `load_rgb(i)` decodes image i; it is called only when the model reads pixels (ResNet, detector, face-api),
        one image at a time so that memory stays bounded. An image that cannot be read or where a detector finds no
        face gives None. Where the extraction found no face, a model with a whole-image fallback answers for a
        small image as `predict` does (Batch test, the API, `evaluate PATH`), so that every path scores alike.
        """
        if not faces:
            return []
        if not self.model.needs_pixels and self.model.needs_landmarks:
            # Landmark models predict from the faces alone: one batched call, no image decoded.
            present = [f for f in faces if f is not None]
            batch = iter(self._predict_faces(np.zeros((1, 1, 3), np.uint8), present) if present else ())
            return [None if f is None else next(batch) for f in faces]
        out: list[FacePrediction | None] = []
        for i, face in enumerate(faces):
            if face is None and self.model.needs_landmarks and not self.model.whole_image_fallback:
                out.append(None)  # no face, and the model cannot answer without one: nothing to decode
                continue
            try:
                rgb = load_rgb(i)
            except Exception:  # one unreadable image must not end the scoring; it is reported as unscored
                out.append(None)
                continue
            if face is None and self.model.needs_landmarks and not self._whole_image_fallback(rgb):
                out.append(None)
                continue
            found = self._predict_faces(rgb, [face] if self.model.needs_landmarks and face is not None else ())
            out.append(main_face(found))
        return out
