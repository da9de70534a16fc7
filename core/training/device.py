"""Choosing the torch device for the ResNet and the detector."""

from __future__ import annotations

import torch

from core.errors import TrainingDataError


def resolve_device(name: str) -> str:
    """ "auto" picks CUDA when present; asking for CUDA without a GPU is refused with a clear message."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingDataError("CUDA was requested but no GPU is available; use device 'cpu' or 'auto'")
    return name
