"""Records that flow through the pipeline (extraction, features, inference, live, detector, store).

The ground floor: this module imports nothing from the project but numpy, so the landmark extractor, the feature
transformers and the models use these records without importing the SQL store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FaceData:
    """One face's landmark extraction, as arrays."""

    landmarks: np.ndarray  # (478, 3) float32, x/y normalized to the image, z relative
    blendshapes: np.ndarray  # (52,) float32
    transform: np.ndarray  # (4, 4) float32
    bbox: tuple[float, float, float, float]  # normalized x0, y0, x1, y1


# One image's extraction outcome as the store saves it: (image id, state, reason, number of faces, the kept face).
ExtractionRow = tuple[int, str, str, int, FaceData | None]
