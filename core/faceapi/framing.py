"""How a face is framed for face-api's network: the one place that turns an image and a MediaPipe face into crops.

face-api's network was trained on its own detector's tight boxes, not on MediaPipe's landmark box (hairline to
chin). A `Framing` says how to cut the 112x112 crop from the landmark box: scale of its longer side, square or the
box's own aspect, black or replicated-edge padding, rotation onto the eye line, a vertical shift, and whether the
network's vote averages the crop with its mirror image. `FRAMINGS` lists the candidates that `bench/train.py
--only crops` measures per domain; `NETWORK_FRAMING` is the chosen one (see the README's starter section for the
table). `whole_image_crop` is the fallback when MediaPipe finds no face (a tight crop is often the whole image).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np

INPUT_SIZE: Final = 112
# MediaPipe face-mesh indices of the eye corners (outer, inner) of each eye: the eye line for alignment.
_LEFT_EYE: Final = (33, 133)
_RIGHT_EYE: Final = (362, 263)


@dataclass(frozen=True)
class Framing:
    scale: float = 1.0  # crop side = scale x the landmark box's longer side (box aspect: each side scaled)
    square: bool = True  # False: the box's own aspect, stretched to 112x112
    pad: str = "black"  # "black" (as face-api pads to a square) or "edge" (replicated border)
    align: bool = False  # rotate so that the eyes are level
    shift: float = 0.0  # move the centre down by this fraction of the box height (MediaPipe's box has the forehead)
    flip: bool = False  # the vote averages the logits of the crop and of its mirror image

    @property
    def name(self) -> str:
        parts = [f"{'square' if self.square else 'box'} {self.scale:g}"]
        if self.pad != "black":
            parts.append(f"{self.pad} pad")
        if self.align:
            parts.append("eye-aligned")
        if self.shift:
            parts.append(f"shift {self.shift:+g}")
        if self.flip:
            parts.append("+ flip")
        return ", ".join(parts)


def crop(
    rgb: np.ndarray, box: tuple[float, float, float, float], landmarks: np.ndarray | None, f: Framing
) -> np.ndarray:
    """A 112x112 RGB uint8 crop of the normalized (x0, y0, x1, y1) box framed by `f` (one affine warp: scale,
    rotation and padding together, no copy of the whole frame)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    bw, bh = (x1 - x0) * w, (y1 - y0) * h
    cx, cy = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h + f.shift * bh
    if f.square:
        sx = sy = max(2.0, f.scale * max(bw, bh))
    else:
        sx, sy = max(2.0, f.scale * bw), max(2.0, f.scale * bh)
    angle = 0.0
    if f.align and landmarks is not None and len(landmarks) > max(_RIGHT_EYE):
        pts = np.asarray(landmarks)[:, :2] * (w, h)
        left, right = pts[list(_LEFT_EYE)].mean(axis=0), pts[list(_RIGHT_EYE)].mean(axis=0)
        angle = float(np.arctan2(right[1] - left[1], right[0] - left[0]))
    if angle == 0.0 and not _needs_warp(sx, sy):
        return _resize_crop(rgb, cx, cy, sx, f.pad)
    # Map the output square onto the rotated crop rectangle in the image, then warp the image into it.
    cos, sin = np.cos(angle), np.sin(angle)
    ax, ay = sx / INPUT_SIZE, sy / INPUT_SIZE
    # source = R @ diag(ax, ay) @ (out - 56) + centre
    m = np.array([[cos * ax, -sin * ay, 0.0], [sin * ax, cos * ay, 0.0]])
    half = INPUT_SIZE / 2
    m[:, 2] = np.array([cx, cy]) - m[:, :2] @ np.array([half, half])
    src = rgb[..., :3] if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, axis=2)
    k = int(2 * round(max(ax, ay) / 2) + 1) if max(ax, ay) > 1.5 else 0
    # Work on the part of the image the crop samples (plus the blur's reach), not on the whole frame.
    corners = m[:, :2] @ np.array([[0, 0, INPUT_SIZE, INPUT_SIZE], [0, INPUT_SIZE, 0, INPUT_SIZE]]) + m[:, 2:]
    margin = k + 2
    rx0, ry0 = max(0, int(corners[0].min()) - margin), max(0, int(corners[1].min()) - margin)
    rx1, ry1 = min(w, int(np.ceil(corners[0].max())) + margin), min(h, int(np.ceil(corners[1].max())) + margin)
    if rx1 > rx0 and ry1 > ry0 and (rx0 > 0 or ry0 > 0 or rx1 < w or ry1 < h):
        src = src[ry0:ry1, rx0:rx1]
        m[:, 2] -= (rx0, ry0)
    if k:  # strong downscale: blur first so the warp does not alias (what INTER_AREA does)
        src = cv2.GaussianBlur(src, (k, k), 0)
    border = cv2.BORDER_CONSTANT if f.pad == "black" else cv2.BORDER_REPLICATE
    out = cv2.warpAffine(
        src, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border
    )
    return np.ascontiguousarray(out)


def _needs_warp(sx: float, sy: float) -> bool:
    return abs(sx - sy) > 1e-6


def _resize_crop(rgb: np.ndarray, cx: float, cy: float, side: float, pad: str) -> np.ndarray:
    """An axis-aligned square: cut what lies inside the image, pad the rest, resize (INTER_AREA when shrinking)."""
    h, w = rgb.shape[:2]
    left, top, size = round(cx - side / 2), round(cy - side / 2), round(side)
    sx0, sy0, sx1, sy1 = max(0, left), max(0, top), min(w, left + size), min(h, top + size)
    if pad == "edge" and sx1 > sx0 and sy1 > sy0:
        inside = np.ascontiguousarray(rgb[sy0:sy1, sx0:sx1, :3])
        square = cv2.copyMakeBorder(
            inside, sy0 - top, top + size - sy1, sx0 - left, left + size - sx1, cv2.BORDER_REPLICATE
        )
    else:
        square = np.zeros((size, size, 3), dtype=np.uint8)
        if sx1 > sx0 and sy1 > sy0:
            square[sy0 - top : sy1 - top, sx0 - left : sx1 - left] = rgb[sy0:sy1, sx0:sx1, :3]
    interp = cv2.INTER_AREA if size > INPUT_SIZE else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(square, (INPUT_SIZE, INPUT_SIZE), interpolation=interp))


def whole_image_crop(rgb: np.ndarray) -> np.ndarray:
    """The whole image padded to a square (black) and resized: the fallback when MediaPipe finds no face."""
    h, w = rgb.shape[:2]
    return _resize_crop(rgb, w / 2, h / 2, float(max(h, w)), "black")


# Candidates measured by the crop study (bench/train.py --only crops). Flip variants are scored from the same
# crops' mirrored logits, so they are not listed separately.
FRAMINGS: Final[tuple[Framing, ...]] = (
    Framing(scale=0.9),
    Framing(scale=1.0),
    Framing(scale=1.1),
    Framing(scale=1.2),
    Framing(scale=1.3),
    Framing(scale=1.0, square=False),
    Framing(scale=1.2, square=False),
    Framing(scale=1.1, pad="edge"),
    Framing(scale=1.3, pad="edge"),
    Framing(scale=1.0, align=True),
    Framing(scale=1.1, align=True),
    Framing(scale=1.2, align=True),
    Framing(scale=1.0, shift=0.05),
    Framing(scale=1.1, shift=0.05),
)
# The framing of the network's vote (faceapi kind, starter): chosen by the crop study.
NETWORK_FRAMING: Final = Framing(scale=1.2, square=False, flip=True)
# The crop of the network rows stored beside the landmark rows (logits + embedding: the learned features of a blend
# trained in the studio, cached under the data root).
STORE_FRAMING: Final = Framing(scale=1.3)
