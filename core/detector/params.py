"""What a detector training job takes: the one place its defaults live (the CLI flags, the Train page and
`DetectorConfig` read them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.jobs.contract import Activation, Params


class DetectorParams(Params):
    yolo: str | None = Field(default=None, description="YOLO dataset folder (data.yaml + train/ + valid/)")
    # Sizes are checked by DetectorConfig itself, with its own messages.
    # The defaults suit the pretrained backbone (bench/detector.py: it overfits past about 15 epochs); the scratch
    # `grid` backbone wants about 30 epochs at 160-192 px.
    epochs: int = Field(default=16, description="training epochs")
    input_size: int = Field(default=256, description="input size, a multiple of 32 (256: a 16x16 grid)")
    batch_size: int = Field(default=16, description="batch size")
    lr: float = Field(default=3e-3, gt=0, description="learning rate")
    patience: int = Field(default=0, ge=0, description="stop after N epochs without a better mAP (0: never)")
    device: str = Field(default="auto", description="cpu, cuda or auto")
    threads: int = Field(default=0, ge=0, description="torch CPU threads (0: torch's default)")
    augment: bool = Field(default=True, description="augment the training images")
    backbone: Literal["efficientnet_lite0", "grid"] = Field(
        default="efficientnet_lite0",
        description="efficientnet_lite0: ImageNet features (frozen, stride 16), only the neck and head train; "
        "grid: a small network trained from scratch (stride 32)",
    )
    expression_head: Literal["grid", "faceapi"] = Field(
        default="grid", description="faceapi: face-api's network names the expression of each detected box"
    )
    activation: Activation = "never"  # compared with the active model; activated as this says
