"""What a fine-tuning job of face-api's network takes: the one place its defaults live (the CLI flags, the page and
`FineTuneConfig` read them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.jobs.contract import Activation, Params


class FineTuneParams(Params):
    mode: Literal["head", "last", "all"] = Field(
        default="last", description="what trains: the head, the last block too, or all of the network"
    )
    epochs: int = Field(default=6, ge=1, description="training epochs")
    batch_size: int = Field(default=32, ge=1, description="batch size")
    lr: float = Field(default=1e-3, gt=0, description="learning rate of the head")
    backbone_lr: float = Field(default=1e-4, gt=0, description="learning rate of the network's own layers")
    patience: int = Field(default=2, ge=0, description="stop after N epochs without a better validation macro-F1")
    flip: bool = Field(default=False, description="add horizontally flipped crops")
    # Share of the fine-tuned weights (WiSE-FT); 1: fine-tuned only.
    wise: float = Field(default=1.0, ge=0, le=1, description="share of the fine-tuned weights (WiSE-FT)")
    device: str = Field(default="auto", description="cpu, cuda or auto")
    threads: int = Field(default=0, ge=0, description="torch CPU threads (0: torch's default)")
    emotions: list[str] = Field(default_factory=list, description="only these emotions (default: all)")
    sources: list[str] = Field(default_factory=list, description="only images of these sources (default: all)")
    activation: Activation = "never"  # compared with the active model; activated as this says
