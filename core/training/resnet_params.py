"""What a ResNet-50 (or EfficientNet-Lite0) training job takes: the one place its defaults live (the CLI flags, the
page and `ResNetConfig` read them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.jobs.contract import Activation, Params


class ResNetParams(Params):
    # Sizes are checked by ResNetConfig itself, with its own messages.
    epochs: int = Field(default=10, description="training epochs")
    head_epochs: int = Field(default=2, ge=0, description="frozen-backbone epochs first (with ImageNet weights)")
    freeze_backbone: bool = Field(default=False, description="train only the head (fast on CPU)")
    image_size: int = Field(default=224, description="input size in pixels")
    batch_size: int = Field(default=32, description="batch size")
    lr: float = Field(default=1e-3, gt=0, description="learning rate")
    patience: int = Field(default=3, ge=0, description="stop after N epochs without a better validation macro-F1")
    use_imagenet: bool = Field(default=True, description="start from ImageNet weights when present")
    backbone: Literal["resnet50", "efficientnet_lite0"] = Field(default="resnet50", description="the network")
    device: str = Field(default="auto", description="cpu, cuda or auto")
    threads: int = Field(default=0, ge=0, description="torch CPU threads (0: torch's default)")
    emotions: list[str] = Field(default_factory=list, description="only these emotions (default: all)")
    sources: list[str] = Field(default_factory=list, description="only images of these sources (default: all)")
    activation: Activation = "never"  # compared with the active model; activated as this says
