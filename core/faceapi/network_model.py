"""Registry kind "faceapi": face-api's expression network alone, zero-shot, on the framing chosen by the crop study.

It is the baseline every trained model is compared with, so it ships as a model users can pick, evaluate and
activate (models/faceapi-network/card.json, no artifact of its own: it runs models/faceapi/face_expression.onnx).
It needs MediaPipe only for the face box; when MediaPipe finds no face, it answers for the whole image (tight crops
and tiny images are often the face itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final

import numpy as np

from core.errors import ModelMismatch
from core.faceapi.framing import NETWORK_FRAMING, STORE_FRAMING, Framing, crop, whole_image_crop
from core.faceapi.network import NETWORK_EMOTIONS, ExpressionNetwork, shared_network, zero_shot_proba
from core.inference import FacePrediction, top_prediction
from core.models.registry import ModelCard, Registry
from core.records import FaceData
from core.schema import EMOTIONS
from core.settings import get_settings

FACEAPI_ID: Final = "faceapi-network"
# The project's order of the network's seven emotions (the card's classes).
CLASSES: Final[list[str]] = [e for e in EMOTIONS if e in NETWORK_EMOTIONS]
WHOLE_IMAGE: Final = (0.0, 0.0, 1.0, 1.0)
LIVE_NOTE: Final = (
    "Live runs a cheaper variant of this model: face-api's network sees one crop per face (the 1.3x square that "
    "the landmark part reads) instead of also voting on its own framing and its mirror image, to keep the video "
    "fluid. The model card's figures are for the full model, which Batch test and the API use."
)


def network_logits(
    network: ExpressionNetwork, rgb: np.ndarray, faces: Sequence[FaceData], framing: Framing = NETWORK_FRAMING
) -> np.ndarray:
    """(n, 7) logits of the faces in face-api's order, framed by `framing` (with `flip`, the mean of the crop's and
    its mirror's logits); with no faces, one row for the whole image."""
    return vote_and_rows(network, rgb, faces, framing, with_rows=False)[0]


def vote_and_rows(
    network: ExpressionNetwork,
    rgb: np.ndarray,
    faces: Sequence[FaceData],
    framing: Framing = NETWORK_FRAMING,
    *,
    with_rows: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The vote's logits and, `with_rows`, the network rows of the stored crop (`STORE_FRAMING`), from one
    onnxruntime call for all crops of the frame (a call costs more than a crop)."""
    if with_rows and faces and framing == STORE_FRAMING:  # the live variant: one crop serves both
        single = network.run(np.stack([crop(rgb, f.bbox, f.landmarks, STORE_FRAMING) for f in faces])).rows()
        return single[:, : len(NETWORK_EMOTIONS)], single
    crops = [crop(rgb, f.bbox, f.landmarks, framing) for f in faces] or [whole_image_crop(rgb)]
    n = len(crops)
    batch = crops + ([c[:, ::-1] for c in crops] if framing.flip else [])
    if with_rows:
        batch += [crop(rgb, f.bbox, f.landmarks, STORE_FRAMING) for f in faces]
    out = network.run(np.stack(batch))
    logits = (out.logits[:n] + out.logits[n : 2 * n]) / 2 if framing.flip else out.logits[:n]
    start = 2 * n if framing.flip else n
    rows = out.rows()[start:] if with_rows else None
    return np.asarray(logits), rows


class NetworkModel:
    """The loaded network-alone model: satisfies `core.inference.ExpressionModel`."""

    needs_landmarks = True  # the crop is framed on the MediaPipe landmark box
    needs_pixels = True  # the network reads the face crop
    whole_image_fallback = True  # no face found: the whole image is the crop

    def __init__(self, card: ModelCard, network: ExpressionNetwork, framing: Framing = NETWORK_FRAMING) -> None:
        self.card = card
        self.network = network
        self.framing = framing
        self.live_note = ""

    def live_variant(self) -> NetworkModel:
        """The cheaper model the Live page runs: one crop a face, without the mirror image (see bench/live.py)."""
        if not self.framing.flip:
            return self
        variant = NetworkModel(self.card, self.network, replace(self.framing, flip=False))
        variant.live_note = (
            "Live runs a cheaper variant of this model: the network sees each face once, without its mirror image, "
            "to keep the video fluid. The model card's figures are for the full model (Batch test and the API)."
        )
        return variant

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
