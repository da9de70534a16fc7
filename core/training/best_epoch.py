"""Pieces the torch trainers (ResNet, face-api fine-tuning) share: inverse-frequency class weights and the
best-epoch bookkeeping behind early stopping. Each trainer keeps its own batches, scores and checkpoints."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn


def class_weights(labels: np.ndarray, n_classes: int, device: str) -> torch.Tensor:
    """Loss weights inverse to each class's share of `labels`, so that a rare emotion counts as much as a common
    one; 0 for a class that `labels` lack."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w, dtype=torch.float32, device=device)


@dataclass
class BestEpoch:
    """The weights of the best validation epoch so far, its score, and how many epochs since have not beaten it."""

    score: float
    state: dict[str, Any]
    since: int = 0

    @classmethod
    def start(cls, net: nn.Module) -> BestEpoch:
        """Before any epoch: the net's weights, beaten by any score."""
        return cls(-1.0, copy.deepcopy(net.state_dict()))

    def update(self, net: nn.Module, score: float | None) -> bool:
        """Record a finished epoch's validation score (None: no validation, so the latest weights are kept); True
        when the net's weights are now the best."""
        if score is None:
            self.state = copy.deepcopy(net.state_dict())
            return True
        if score > self.score:
            self.score, self.state, self.since = score, copy.deepcopy(net.state_dict()), 0
            return True
        self.since += 1
        return False

    def patience_spent(self, patience: int) -> bool:
        """Whether `patience` epochs (0: never stop early) have passed without a better score."""
        return bool(patience) and self.since >= patience
