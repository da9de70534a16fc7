"""The raw face row every feature transformer reads: landmarks, blendshapes and transform, flattened side by side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.records import FaceData
from core.schema import LANDMARK_DIMS, NUM_BLENDSHAPES, NUM_LANDMARKS

LANDMARK_WIDTH = NUM_LANDMARKS * LANDMARK_DIMS
TRANSFORM_WIDTH = 16
RAW_WIDTH = LANDMARK_WIDTH + NUM_BLENDSHAPES + TRANSFORM_WIDTH


def faces_to_matrix(faces: Sequence[FaceData]) -> np.ndarray:
    """(n, RAW_WIDTH) float32 rows, one per face."""
    out = np.empty((len(faces), RAW_WIDTH), dtype=np.float32)
    for i, face in enumerate(faces):
        out[i] = raw_row(face.landmarks, face.blendshapes, face.transform)
    return out


def raw_row(landmarks: np.ndarray, blendshapes: np.ndarray, transform: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [
            np.asarray(landmarks, dtype=np.float32).reshape(LANDMARK_WIDTH),
            np.asarray(blendshapes, dtype=np.float32).reshape(NUM_BLENDSHAPES),
            np.asarray(transform, dtype=np.float32).reshape(TRANSFORM_WIDTH),
        ]
    )


def arrays_to_matrix(landmarks: np.ndarray, blendshapes: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Raw rows from stacked arrays: (n, 478, 3), (n, 52), (n, 4, 4)."""
    n = len(landmarks)
    return np.concatenate(
        [
            np.asarray(landmarks, dtype=np.float32).reshape(n, LANDMARK_WIDTH),
            np.asarray(blendshapes, dtype=np.float32).reshape(n, NUM_BLENDSHAPES),
            np.asarray(transforms, dtype=np.float32).reshape(n, TRANSFORM_WIDTH),
        ],
        axis=1,
    )


def split_raw(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Landmarks (n, 478, 3), blendshapes (n, 52) and transforms (n, 4, 4) of raw rows."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != RAW_WIDTH:
        raise ValueError(f"expected raw face rows of width {RAW_WIDTH}, got shape {x.shape}")
    n = x.shape[0]
    lm = x[:, :LANDMARK_WIDTH].reshape(n, NUM_LANDMARKS, LANDMARK_DIMS)
    bs = x[:, LANDMARK_WIDTH : LANDMARK_WIDTH + NUM_BLENDSHAPES]
    tf = x[:, LANDMARK_WIDTH + NUM_BLENDSHAPES :].reshape(n, 4, 4)
    return lm, bs, tf
