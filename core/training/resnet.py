"""ResNet-50 image model (registry kind "resnet"): fine-tuned on face crops cut around the landmark box.

Training: crops from the store, augmentation, class weighting, a validation split grouped by person when the store
knows identity, early stopping on validation macro-F1, and, when ImageNet weights are present locally, a first
phase that trains only the head on a frozen backbone (usable on CPU). Without local weights it says so and trains
from scratch. Progress goes to a per-epoch callback; a threading.Event cancels between batches.

The parts live beside this module: crops in `crop_data`, networks and weights in `image_networks`, the training loop
in `resnet_training`; this module is the kind's entry point (train, save, load) and re-exports them for callers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.auth import Permission, require
from core.errors import ModelFileCorrupt
from core.executors.cluster import worker_settings
from core.executors.executor import executor_for
from core.executors.fanout import net_to_cpu
from core.inference import FacePrediction, top_prediction
from core.models.registry import ModelCard, Registry, check_emotions, new_model_id
from core.records import FaceData
from core.settings import Settings
from core.training.checkpoint import EpochCheckpoint
from core.training.crop_data import (
    CROP_PAD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    CropData,
    augment_crop,
    face_crop,
    load_crops,
    split_train_val,
    to_batch,
)
from core.training.image_networks import (
    BACKBONES,
    build_network,
    build_resnet50,
    find_imagenet_weights,
    weights_status,
)
from core.training.resnet_training import (
    EpochCallback,
    ResNetConfig,
    ResNetEpoch,
    ResNetResult,
    predict_proba,
    train_resnet_here,
)

__all__ = [
    "ARTIFACT",
    "BACKBONES",
    "CROP_PAD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CropData",
    "EpochCallback",
    "ResNetConfig",
    "ResNetEpoch",
    "ResNetModel",
    "ResNetResult",
    "augment_crop",
    "build_network",
    "build_resnet50",
    "face_crop",
    "find_imagenet_weights",
    "load_artifact",
    "load_crops",
    "save_resnet",
    "split_train_val",
    "to_batch",
    "train_resnet",
    "weights_status",
]

ARTIFACT = "model.pt"


def train_resnet(
    data: CropData,
    settings: Settings,
    config: ResNetConfig | None = None,
    *,
    progress: EpochCallback | None = None,
    cancel: threading.Event | None = None,
    checkpoint: EpochCheckpoint | None = None,
) -> ResNetResult:
    """Fine-tune (or train from scratch) on `data`; keeps the weights of the best validation epoch. With
    EXECUTOR=ray it runs as a Ray task on a GPU when the cluster has one; progress and cancel work the same.
    With `checkpoint`, each finished epoch is saved there and a matching checkpoint is resumed from."""
    require(Permission.TRAIN)
    return executor_for(settings).run_task(
        train_resnet_here,
        data,
        worker_settings(settings),
        config,
        progress=progress,
        cancel=cancel,
        on_worker=net_to_cpu,
        checkpoint=checkpoint,
    )


# ---- registry --------------------------------------------------------------------------------------------------
def save_resnet(
    registry: Registry, result: ResNetResult, *, data_sources: Sequence[str] = (), model_id: str | None = None
) -> ModelCard:
    """Save the trained network and its card (atomically, through Registry.save)."""
    cfg = result.config
    card = ModelCard(
        id=model_id or new_model_id("resnet", cfg.backbone),
        kind="resnet",
        name=cfg.backbone,
        classes=list(result.classes),
        feature_sets=["face_crop"],
        metrics=result.card_metrics(),
        params={
            "image_size": cfg.image_size,
            "backbone": cfg.backbone,
            "pad": cfg.pad,
            "pretrained": result.pretrained,
            "epochs": cfg.epochs,
            "head_epochs": cfg.head_epochs,
            "freeze_backbone": cfg.freeze_backbone,
            "batch_size": cfg.batch_size,
            "lr": cfg.lr,
            "backbone_lr": cfg.backbone_lr,
            "augment": cfg.augment,
            "class_weighting": cfg.class_weighting,
            "seed": cfg.seed,
        },
        data_hash=result.data_hash,
        data_sources=list(data_sources),
        artifact=ARTIFACT,
        notes=result.weights_note
        + (" Training was cancelled; the best epoch so far was kept." if result.cancelled else ""),
    )
    state = {k: v.detach().cpu() for k, v in result.net.state_dict().items()}

    def write(path: Path) -> None:
        torch.save(state, path)

    return registry.save(card, write)


class ResNetModel:
    """A loaded ResNet: crops each MediaPipe face and classifies the crop (needs_landmarks is True)."""

    needs_landmarks = True
    needs_pixels = True  # the crop is cut from the image
    whole_image_fallback = False

    def __init__(
        self, card: ModelCard, net: nn.Module, *, image_size: int, pad: float, device: str = "cpu", session: Any = None
    ) -> None:
        self.card = card
        self.net = net.to(device).eval()
        self.image_size = image_size
        self.pad = pad
        self.device = device
        self.session = session  # an onnxruntime session of the same network, where it is faster than torch

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    def predict_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities of square crops already at `image_size` (columns in `classes` order)."""
        if self.session is not None and len(crops):
            logits = self.session.run(None, {"x": to_batch(crops, "cpu").numpy()})[0]
            return torch.softmax(torch.from_numpy(np.asarray(logits)), dim=1).numpy()
        return predict_proba(self.net, crops, self.device, 32)

    def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData]) -> list[FacePrediction]:
        if not faces:
            return []
        crops = [face_crop(rgb, f.bbox, self.image_size, self.pad) for f in faces]
        proba = self.predict_crops(crops)
        return [top_prediction(f.bbox, self.classes, p, f.landmarks) for f, p in zip(faces, proba, strict=True)]


def load_artifact(folder: Path, card: ModelCard, *, device: str = "cpu") -> ResNetModel:
    """Registry loader for kind "resnet"."""
    check_emotions(card)
    net = build_network(str(card.params.get("backbone", "resnet50")), len(card.classes))
    path = Path(folder) / card.artifact
    try:
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise ModelFileCorrupt(f"model {card.id}: cannot load {path.name} ({exc})") from exc
    size = int(card.params.get("image_size", 224))
    session = None
    if card.params.get("backbone") == "efficientnet_lite0" and device == "cpu":
        from core.training.efficientnet import onnx_session

        session = onnx_session(net, size)
    return ResNetModel(
        card, net, image_size=size, pad=float(card.params.get("pad", CROP_PAD)), device=device, session=session
    )
