"""Uncertainty measures and the diverse selection, on hand-made probabilities and shapes."""

from __future__ import annotations

import numpy as np
import pytest

from core.active_learning.diversity import select_diverse
from core.active_learning.uncertainty import entropy, least_confidence, margin, uncertainty

PROBA = np.array(
    [
        [0.98, 0.01, 0.01],  # sure
        [0.50, 0.49, 0.01],  # a near tie between two classes
        [0.34, 0.33, 0.33],  # no idea
        [0.60, 0.20, 0.20],
    ]
)


def test_measures_rank_sure_faces_last() -> None:
    for fn in (least_confidence, margin, entropy):
        scores = fn(PROBA)
        assert scores.shape == (4,)
        assert np.all((scores >= 0) & (scores <= 1))
        assert int(np.argmin(scores)) == 0, fn.__name__
    assert least_confidence(PROBA)[2] == pytest.approx(0.66)
    # Margin puts the two-way tie first; entropy puts the uniform row first.
    assert int(np.argmax(margin(PROBA))) == 1
    assert int(np.argmax(entropy(PROBA))) == 2
    assert entropy(np.full((1, 4), 0.25))[0] == pytest.approx(1.0)


def test_unknown_strategy_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="least_confidence, margin, entropy"):
        uncertainty(PROBA, "variance")
    with pytest.raises(ValueError, match="shape"):
        entropy(np.ones(3))


def test_select_diverse_skips_near_duplicates_and_stops_at_k() -> None:
    shapes = np.zeros((5, 9))
    shapes[1] = 0.001  # near-duplicate of 0
    shapes[2] = 1.0
    shapes[3] = 2.0
    shapes[4] = 3.0
    kept, skipped = select_diverse([0, 1, 2, 3, 4], shapes, k=3, min_distance=0.02)
    assert kept == [0, 2, 3]
    assert skipped == [(1, 0)]
    kept, skipped = select_diverse([1, 0, 2], shapes, k=5, min_distance=0.0)
    assert kept == [1, 0, 2] and not skipped
