"""The grid detector with face-api's network as its expression head: the detector finds the faces (its recall is
high), face-api's network names the expression of each detected box (the grid's own emotion head is weak: about
0.25 accuracy on fer-yolo valid). Chosen per model by the card's `expression_head: faceapi`; the crop is face-api's
framing (`core.faceapi.network.face_crop`) around the detector's box, `faceapi_scale` times its longer side (the
detector's boxes are tight, like face-api's own detector's, so 1.0 by default). Contempt, which the network does not
know, gets probability 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.detector.model import DetectorModel
from core.faceapi.network import ExpressionNetwork, face_crop, shared_network, zero_shot_proba
from core.inference import FacePrediction, top_prediction
from core.records import FaceData

HEAD = "faceapi"
DEFAULT_SCALE = 1.0


class FaceApiHeadDetector(DetectorModel):
    """Boxes from the grid detector, expressions from face-api's network on each box."""

    def attach(self, network: ExpressionNetwork | None = None, scale: float = DEFAULT_SCALE) -> FaceApiHeadDetector:
        self.network = network or shared_network()
        self.scale = scale
        return self

    def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData] = ()) -> list[FacePrediction]:
        found = self.detect_batch([rgb])[0]
        if not found:
            return []
        logits = self.network.run(np.stack([face_crop(rgb, d.box, self.scale) for d in found])).logits
        proba = zero_shot_proba(logits, self.classes)
        return [top_prediction(det.box, self.classes, p) for det, p in zip(found, proba, strict=True)]


def with_faceapi_head(model: DetectorModel, scale: float = DEFAULT_SCALE) -> FaceApiHeadDetector:
    """The same loaded detector, its expressions named by face-api's network."""
    wrapped = FaceApiHeadDetector(
        model.card,
        model.net,
        input_size=model.input_size,
        anchors=model.spec.anchors,
        conf_threshold=model.conf_threshold,
        iou_threshold=model.iou_threshold,
        device=model.device,
    )
    return wrapped.attach(scale=scale)
