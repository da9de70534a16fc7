"""Pieces the torch trainers (ResNet, face-api fine-tuning) share: inverse-frequency class weights, the
best-epoch bookkeeping behind early stopping and the run record their cards report. Each trainer keeps its own
batches, scores and checkpoints."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Protocol, TypeVar

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


class EpochRow(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


class EpochStats:
    """Base of a trainer's per-epoch dataclass: the row its history and checkpoints keep."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]  # every subclass is a dataclass


E = TypeVar("E", bound=EpochRow)


@dataclass(kw_only=True)
class TrainingRun(Generic[E]):
    """What every trainer's result records of its run besides the net (keyword-only, after each result's own
    fields)."""

    split_note: str
    history: list[E] = field(default_factory=list)
    best_epoch: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    cancelled: bool = False
    seconds: float = 0.0
    data_hash: str = ""
    num_train: int = 0
    num_val: int = 0

    def card_metrics(self) -> dict[str, Any]:
        """The model card's metrics: the best epoch's validation figures and the run's history and sizes."""
        return {
            **self.metrics,
            "best_epoch": self.best_epoch,
            "history": [h.as_dict() for h in self.history],
            "train_seconds": self.seconds,
            "num_train": self.num_train,
            "num_val": self.num_val,
            "validation": self.split_note,
        }
