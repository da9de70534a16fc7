"""640x480 test frames made from the real astronaut photo."""

from __future__ import annotations

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480


def frame_640(rgb: np.ndarray) -> np.ndarray:
    """The photo scaled to 480 high and centred on a 640x480 grey canvas."""
    h, w = rgb.shape[:2]
    scaled = cv2.resize(rgb, (round(w * HEIGHT / h), HEIGHT), interpolation=cv2.INTER_AREA)
    canvas = np.full((HEIGHT, WIDTH, 3), 96, np.uint8)
    x = (WIDTH - scaled.shape[1]) // 2
    canvas[:, x : x + scaled.shape[1]] = scaled[:, : WIDTH - max(x, 0)]
    return canvas


def two_faces_640(rgb: np.ndarray) -> np.ndarray:
    """Two copies of the face side by side (the second mirrored)."""
    face = rgb[20:300, 110:350]  # the astronaut's head and shoulders
    face = cv2.resize(face, (300, 350), interpolation=cv2.INTER_AREA)
    canvas = np.full((HEIGHT, WIDTH, 3), 96, np.uint8)
    canvas[65:415, 10:310] = face
    canvas[65:415, 330:630] = face[:, ::-1]
    return canvas
