"""Registry loader of model kind "detector": the network rebuilt from its card and its artifact, with the expression
head the card names (the grid's own, or face-api's network on each box). Apart from `model` so that the face-api
head, a DetectorModel itself, and the plain model import in one direction only.
"""

from __future__ import annotations

from pathlib import Path

import torch

from core.detector.faceapi_head import DEFAULT_SCALE, HEAD, with_faceapi_head
from core.detector.model import DetectorModel
from core.detector.net import GridDetector
from core.errors import ModelFileCorrupt
from core.models.registry import ModelCard


def build_net(card: ModelCard) -> GridDetector:
    widths = tuple(int(w) for w in card.params.get("widths", ()))
    anchors = card.params.get("anchors") or []
    if len(widths) != 5 or not anchors:
        raise ModelFileCorrupt(f"model {card.id}: card params lack the network layout (widths, anchors)")
    # pretrained=False: the artifact holds every weight, the backbone's included.
    return GridDetector(len(card.classes), len(anchors), widths, str(card.params.get("backbone", "grid")), False)


def load_artifact(folder: Path, card: ModelCard, *, device: str = "cpu") -> DetectorModel:
    """Registry loader for kind "detector"."""
    net = build_net(card)
    path = Path(folder) / card.artifact
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise ModelFileCorrupt(f"model {card.id}: cannot load {path.name} ({exc})") from exc
    model = DetectorModel(
        card,
        net,
        input_size=int(card.params["input_size"]),
        anchors=card.params["anchors"],
        conf_threshold=float(card.params.get("conf_threshold", 0.25)),
        iou_threshold=float(card.params.get("iou_threshold", 0.45)),
        device=device,
    )
    if card.params.get("expression_head") == HEAD:  # boxes from the grid, expressions from face-api's network
        return with_faceapi_head(model, float(card.params.get("faceapi_scale", DEFAULT_SCALE)))
    return model
