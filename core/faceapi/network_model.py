"""Registry kind "faceapi": face-api's expression network alone, zero-shot, on the framing chosen by the crop study.

It is the baseline every trained model is compared with, so it ships as a model users can pick, evaluate and
activate (models/faceapi-network/card.json, no artifact of its own: it runs models/faceapi/face_expression.onnx).
It needs MediaPipe only for the face box; when MediaPipe finds no face, it answers for the whole image (tight crops
and tiny images are often the face itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np

from core.errors import ModelMismatch
from core.faceapi.framing import NETWORK_FRAMING, Framing, crop, whole_image_crop
from core.faceapi.network import NETWORK_EMOTIONS, ExpressionNetwork, shared_network, zero_shot_proba
from core.inference import FacePrediction, top_prediction
from core.records import FaceData
from core.registry import ModelCard, Registry
from core.schema import EMOTIONS
from core.settings import get_settings

FACEAPI_ID: Final = "faceapi-network"
# The project's order of the network's seven emotions (the card's classes).
CLASSES: Final[list[str]] = [e for e in EMOTIONS if e in NETWORK_EMOTIONS]
WHOLE_IMAGE: Final = (0.0, 0.0, 1.0, 1.0)


def network_logits(
    network: ExpressionNetwork, rgb: np.ndarray, faces: Sequence[FaceData], framing: Framing = NETWORK_FRAMING
) -> np.ndarray:
    """(n, 7) logits of the faces in face-api's order, framed by `framing` (with `flip`, the mean of the crop's and
    its mirror's logits); with no faces, one row for the whole image."""
    crops = [crop(rgb, f.bbox, f.landmarks, framing) for f in faces] or [whole_image_crop(rgb)]
    batch = np.stack(crops + [c[:, ::-1] for c in crops]) if framing.flip else np.stack(crops)
    logits = network.run(batch).logits
    if framing.flip:
        logits = (logits[: len(crops)] + logits[len(crops) :]) / 2
    return np.asarray(logits)


class NetworkModel:
    """The loaded network-alone model: satisfies `core.inference.ExpressionModel`."""

    needs_landmarks = True  # the crop is framed on the MediaPipe landmark box
    needs_pixels = True  # the network reads the face crop
    whole_image_fallback = True  # no face found: the whole image is the crop

    def __init__(self, card: ModelCard, network: ExpressionNetwork, framing: Framing = NETWORK_FRAMING) -> None:
        self.card = card
        self.network = network
        self.framing = framing

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData]) -> list[FacePrediction]:
        proba = zero_shot_proba(network_logits(self.network, rgb, faces, self.framing), self.card.classes)
        if not faces:
            return [top_prediction(WHOLE_IMAGE, self.card.classes, proba[0])]
        return [top_prediction(f.bbox, self.card.classes, p, f.landmarks) for f, p in zip(faces, proba, strict=True)]


def load_artifact(folder: Path, card: ModelCard) -> NetworkModel:
    """The registry's loader for kind "faceapi" (the card is all there is in `folder`). Refuses a card written
    for another network file."""
    trained_on = card.params.get("network_sha256")
    if trained_on and trained_on != get_settings().faceapi_model_sha256:
        raise ModelMismatch(f"model {card.id} describes another face-api network file ({trained_on[:12]}…)")
    unknown = [c for c in card.classes if c not in NETWORK_EMOTIONS]
    if unknown:
        raise ModelMismatch(f"model {card.id}: face-api's network cannot predict {', '.join(unknown)}")
    return NetworkModel(card, shared_network(get_settings()))


NETWORK_NOTE: Final = (
    "face-api's pretrained expression network (@vladmandic/face-api 1.7.15, MIT; models/faceapi/) used alone, "
    "zero-shot: no training on the project's data. The baseline every trained model is compared with. Framing chosen "
    "by the crop study of bench/train.py (the MediaPipe landmark box x1.2 stretched to a square, averaged with its "
    "mirror image); when MediaPipe finds no face, the whole image. It predicts 7 of the 8 emotions: not contempt."
)


def write_network_card(registry: Registry, metrics: dict[str, object]) -> ModelCard:
    """(Re)write the shipped card of the network-alone model (no artifact: it runs the shipped ONNX file)."""
    import shutil

    shutil.rmtree(registry.folder(FACEAPI_ID), ignore_errors=True)
    card = ModelCard(
        id=FACEAPI_ID,
        kind="faceapi",
        name="faceapi_network",
        classes=CLASSES,
        metrics={"not_predicted": {"contempt": "face-api's network has no contempt class"}, **metrics},
        params={"framing": NETWORK_FRAMING.name, "network_sha256": get_settings().faceapi_model_sha256},
        data_sources=["none: zero-shot (face-api's own training data)"],
        artifact="",
        notes=NETWORK_NOTE,
    )
    return registry.save(card, lambda _path: None)
