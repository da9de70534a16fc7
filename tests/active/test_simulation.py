"""The uncertainty-vs-random simulation on a labeled set built here, with a fixed seed."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.active.simulation import simulate
from core.features.raw import RAW_WIDTH, arrays_to_matrix
from core.schema import NUM_BLENDSHAPES, NUM_LANDMARKS


def labeled_set(n: int = 900, seed: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Four expressions as clusters in blendshape space: most faces are clear-cut, a minority sit near the class
    boundaries (the faces a model learns from most)."""
    rng = np.random.default_rng(seed)
    classes = np.array(["angry", "happy", "sad", "surprise"])
    centers = rng.normal(0, 0.3, size=(len(classes), NUM_BLENDSHAPES))
    y = rng.integers(0, len(classes), n)
    spread = np.where(rng.random(n) < 0.8, 0.6, 1.6)[:, None]  # 20% hard faces
    blend = centers[y] + spread * rng.normal(0, 1, size=(n, NUM_BLENDSHAPES))
    landmarks = rng.normal(0, 0.01, size=(n, NUM_LANDMARKS, 3))
    transforms = np.tile(np.eye(4), (n, 1, 1))
    return arrays_to_matrix(landmarks, blend, transforms), classes[y]


def test_uncertainty_sampling_is_at_least_as_good_as_random_at_equal_budget() -> None:
    x, y = labeled_set()
    assert x.shape[1] == RAW_WIDTH
    progress: list[tuple[int, int]] = []
    result = simulate(
        x, y, strategy="margin", initial=8, batch=8, rounds=12, seed=0, progress=lambda d, t: progress.append((d, t))
    )
    assert result.labels == [8 + 8 * i for i in range(13)]  # equal budgets round by round
    assert len(result.uncertainty_f1) == len(result.random_f1) == 13
    assert result.uncertainty_f1[0] == result.random_f1[0]  # the same seed set
    assert progress[-1] == (13, 13)
    gains = np.array(result.uncertainty_f1[1:]) - np.array(result.random_f1[1:])
    assert gains.mean() >= 0.0, result.rows()
    assert result.uncertainty_f1[-1] >= result.random_f1[-1] - 0.01, result.rows()
    needed = result.labels_to_match_random()
    assert needed is not None and needed <= result.labels[-1]
    # Fixed seed: the same curves again.
    again = simulate(x, y, strategy="margin", initial=8, batch=8, rounds=12, seed=0)
    assert again.uncertainty_f1 == result.uncertainty_f1 and again.random_f1 == result.random_f1


def test_simulation_can_be_cancelled_and_refuses_bad_input() -> None:
    x, y = labeled_set(200)
    stop = threading.Event()
    stop.set()
    assert simulate(x, y, rounds=3, cancel=stop).cancelled
    with pytest.raises(ValueError, match="valid"):
        simulate(x, y, strategy="dropout")
    with pytest.raises(ValueError, match="two emotions"):
        simulate(x, np.array(["happy"] * len(y)))
