"""The face mesh topology: tessellation edges and the named regions of the 478 landmarks (from MediaPipe Tasks)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from mediapipe.tasks.python.vision import FaceLandmarksConnections as _C

# Region name -> MediaPipe connection list. Order matters: later regions win for points shared by two.
_REGION_CONNECTIONS = {
    "face oval": _C.FACE_LANDMARKS_FACE_OVAL,
    "brows": _C.FACE_LANDMARKS_LEFT_EYEBROW + _C.FACE_LANDMARKS_RIGHT_EYEBROW,
    "eyes": _C.FACE_LANDMARKS_LEFT_EYE + _C.FACE_LANDMARKS_RIGHT_EYE,
    "irises": _C.FACE_LANDMARKS_LEFT_IRIS + _C.FACE_LANDMARKS_RIGHT_IRIS,
    "nose": _C.FACE_LANDMARKS_NOSE,
    "lips": _C.FACE_LANDMARKS_LIPS,
}
REGION_COLORS = {
    "other": "#9aa5b1",
    "face oval": "#6c5ce7",
    "brows": "#e17055",
    "eyes": "#0984e3",
    "irises": "#00cec9",
    "nose": "#fdcb6e",
    "lips": "#d63031",
}
REGIONS = tuple(REGION_COLORS)


def _pairs(connections: list[_C.Connection]) -> np.ndarray:
    return np.array([(c.start, c.end) for c in connections], dtype=np.int32)


@lru_cache(maxsize=1)
def tessellation_edges() -> np.ndarray:
    """(E, 2) landmark index pairs of the full triangle mesh."""
    return _pairs(_C.FACE_LANDMARKS_TESSELATION)


@lru_cache(maxsize=1)
def region_edges() -> dict[str, np.ndarray]:
    """Contour edges of each named region."""
    return {name: _pairs(conns) for name, conns in _REGION_CONNECTIONS.items()}


@lru_cache(maxsize=1)
def point_regions() -> tuple[str, ...]:
    """The region of each of the 478 landmarks ('other' for points on no contour)."""
    from core.schema import NUM_LANDMARKS

    regions = ["other"] * NUM_LANDMARKS
    for name, edges in region_edges().items():
        for index in np.unique(edges):
            regions[int(index)] = name
    return tuple(regions)
