"""Near-duplicate detection by landmark distance, so that a queue of K images shows K different faces.

Shapes are centred, scaled to unit RMS size and rotated onto a common reference (similarity Procrustes), so the
same face re-encoded, resized or slightly rotated lands within a small distance, while a different expression or
person lands far away. The distance is the RMS distance per landmark between two aligned unit-size shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.features.alignment import align_shapes, normalize_shapes

# Aligned RMS distance below which two faces count as near-duplicates. Measured here: the same photo resized or
# blurred 0.007-0.010, rotated/flipped/cropped copies mostly 0.01-0.02; different photos in faces-dev 0.045 at the
# 1st percentile (same person) and 0.09 at the median.
DEFAULT_MIN_DISTANCE = 0.02


def aligned_shapes(landmarks: np.ndarray) -> np.ndarray:
    """(n, 478, 3) landmarks -> (n, 478 * 3) aligned unit-size shapes, comparable by Euclidean distance."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if len(lm) == 0:
        return np.zeros((0, 0))
    reference = normalize_shapes(lm.mean(axis=0, keepdims=True))[0]
    aligned = align_shapes(lm, reference, "similarity")
    return np.asarray(aligned.reshape(len(lm), -1))


def shape_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS per-landmark distance between aligned shape rows: a (d,) against b (m, d) -> (m,)."""
    points = a.shape[-1] // 3
    return np.asarray(np.sqrt(((b - a) ** 2).sum(axis=-1) / points))


def select_diverse(
    order: Sequence[int], shapes: np.ndarray, k: int, min_distance: float = DEFAULT_MIN_DISTANCE
) -> tuple[list[int], list[tuple[int, int]]]:
    """Walk `order` (indices, most wanted first) and keep up to `k` whose shape is at least `min_distance` from
    every one kept so far. Returns the kept indices and (skipped, near-duplicate-of) pairs."""
    kept: list[int] = []
    skipped: list[tuple[int, int]] = []
    for i in order:
        if len(kept) >= k:
            break
        if kept and min_distance > 0:
            dist = shape_distance(shapes[i], shapes[kept])
            nearest = int(np.argmin(dist))
            if dist[nearest] < min_distance:
                skipped.append((int(i), kept[nearest]))
                continue
        kept.append(int(i))
    return kept, skipped
