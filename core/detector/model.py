"""The detector as a registry model: the ExpressionModel that Live, Batch test and the API use, and saving it.

The artifact is a torch file of plain tensors and numbers (loaded with `weights_only=True` by
`core.detector.artifact`, so a model file cannot run code). Its card's params hold what rebuilds the network: input
size, backbone, anchors, stage widths, thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.detector.boxes import Detection, GridSpec, decode_predictions
from core.detector.data import resize_square, to_tensor
from core.detector.net import GridDetector
from core.inference import FacePrediction, top_prediction
from core.models.registry import ModelCard, Registry, new_model_id
from core.records import FaceData

ARTIFACT = "model.pt"
# The face score above which a box counts as a face, per backbone. On fer-yolo valid (bench/detector.py --quick) the
# stride-16 pretrained grid at 0.25 / 0.15 / 0.10 / 0.05: face recall 0.936 / 0.968 / 0.975 / 0.985 at precision
# 0.990 / 0.986 / 0.982 / 0.971, emotion accuracy 0.518 / 0.521 / 0.523 / 0.519: 0.10 finds the small collage faces
# at almost no cost. The scratch grid keeps the 0.25 it was measured with.
CONF_THRESHOLDS = {"grid": 0.25, "efficientnet_lite0": 0.10}


class DetectorModel:
    """A loaded grid detector. needs_landmarks is False: it finds faces itself, in one pass."""

    needs_landmarks = False
    needs_pixels = True
    whole_image_fallback = False

    def __init__(
        self,
        card: ModelCard,
        net: GridDetector,
        *,
        input_size: int,
        anchors: Sequence[Sequence[float]],
        conf_threshold: float = 0.25,
        iou_threshold: float = 0.45,
        device: str = "cpu",
    ) -> None:
        self.card = card
        self.net = net.to(device).eval()
        self.input_size = int(input_size)
        self.spec = GridSpec(self.input_size // net.stride, tuple((float(a[0]), float(a[1])) for a in anchors))
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.device = device

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    @torch.inference_mode()
    def detect_batch(
        self, images: Sequence[np.ndarray], *, conf_threshold: float | None = None
    ) -> list[list[Detection]]:
        """Detections for RGB uint8 images of any size (boxes normalized to each image)."""
        if not images:
            return []
        batch = to_tensor([resize_square(img, self.input_size) for img in images]).to(self.device)
        raw = self.net(batch)
        threshold = self.conf_threshold if conf_threshold is None else conf_threshold
        return decode_predictions(raw, self.spec, conf_threshold=threshold, iou_threshold=self.iou_threshold)

    def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData] = ()) -> list[FacePrediction]:
        """Every face the detector finds in `rgb`, in the shared FacePrediction shape (`faces` is ignored)."""
        return [top_prediction(det.box, self.classes, det.probabilities) for det in self.detect_batch([rgb])[0]]


def model_params(
    net: GridDetector, input_size: int, spec: GridSpec, widths: Sequence[int], backbone: str = "grid"
) -> dict[str, Any]:
    return {
        "input_size": int(input_size),
        "backbone": backbone,
        "anchors": [list(a) for a in spec.anchors],
        "widths": list(widths),
        "conf_threshold": CONF_THRESHOLDS.get(backbone, 0.25),
        "iou_threshold": 0.45,
        "num_parameters": int(sum(p.numel() for p in net.parameters())),
    }


def save_detector(
    registry: Registry,
    net: GridDetector,
    *,
    classes: Sequence[str],
    params: dict[str, Any],
    metrics: dict[str, Any],
    data_hash: str = "",
    data_sources: Sequence[str] = (),
    notes: str = "",
    model_id: str | None = None,
) -> ModelCard:
    """Save the network with its card into the registry (atomically, through Registry.save)."""
    card = ModelCard(
        id=model_id or new_model_id("detector", "grid"),
        kind="detector",
        name="grid_detector",
        classes=list(classes),
        feature_sets=["image"],
        metrics=metrics,
        params=params,
        data_hash=data_hash,
        data_sources=list(data_sources),
        artifact=ARTIFACT,
        notes=notes,
    )
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}

    def write(path: Path) -> None:
        torch.save(state, path)

    return registry.save(card, write)
