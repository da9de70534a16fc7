"""Uncertainty measures over class probabilities: higher means the model is less sure. All lie in [0, 1]."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np


def _check(proba: np.ndarray) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"expected (n, classes >= 2) probabilities, got shape {p.shape}")
    return p


def least_confidence(proba: np.ndarray) -> np.ndarray:
    """1 - the top probability."""
    p = _check(proba)
    return np.asarray(1.0 - p.max(axis=1))


def margin(proba: np.ndarray) -> np.ndarray:
    """1 - (top probability - runner-up): a near tie between two emotions scores close to 1."""
    p = np.sort(_check(proba), axis=1)
    return np.asarray(1.0 - (p[:, -1] - p[:, -2]))


def entropy(proba: np.ndarray) -> np.ndarray:
    """Shannon entropy divided by its maximum, log(classes)."""
    p = _check(proba)
    logs = np.log(np.clip(p, 1e-12, 1.0))
    return np.asarray(-(p * logs).sum(axis=1) / np.log(p.shape[1]))


STRATEGIES: Final[dict[str, Callable[[np.ndarray], np.ndarray]]] = {
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
}
STRATEGY_LABELS: Final[dict[str, str]] = {
    "least_confidence": "Least confidence",
    "margin": "Margin",
    "entropy": "Entropy",
}


def uncertainty(proba: np.ndarray, strategy: str) -> np.ndarray:
    """Scores of one named strategy; ValueError listing the valid names otherwise."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown uncertainty strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    return STRATEGIES[strategy](proba)
