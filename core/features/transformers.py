"""The three feature sets as scikit-learn transformers over raw face rows (see `core.features.raw`)."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from core.features.alignment import ALIGNMENTS, Alignment, align_shapes, fit_reference
from core.features.raw import split_raw
from core.schema import BLENDSHAPE_NAMES, LANDMARK_COLUMNS

# MediaPipe face-mesh indices. "left" is the subject's left (the right side of an unmirrored image).
MOUTH_LEFT, MOUTH_RIGHT = 291, 61
LIP_TOP, LIP_BOTTOM = 13, 14  # inner lips
LIP_TOP_OUTER, LIP_BOTTOM_OUTER = 0, 17
EYE_L_TOP, EYE_L_BOTTOM, EYE_L_OUTER, EYE_L_INNER = 386, 374, 263, 362
EYE_R_TOP, EYE_R_BOTTOM, EYE_R_OUTER, EYE_R_INNER = 159, 145, 33, 133
BROW_L_INNER, BROW_L_MID, BROW_L_OUTER = 285, 334, 300
BROW_R_INNER, BROW_R_MID, BROW_R_OUTER = 55, 105, 70
NOSE_TIP, NOSTRIL_L, NOSTRIL_R = 1, 327, 98
CHIN, FOREHEAD = 152, 10
CHEEK_L, CHEEK_R = 425, 205

KEY_POINTS: dict[str, int] = {
    "mouth_left": MOUTH_LEFT,
    "mouth_right": MOUTH_RIGHT,
    "lip_top": LIP_TOP,
    "lip_bottom": LIP_BOTTOM,
    "lip_top_outer": LIP_TOP_OUTER,
    "lip_bottom_outer": LIP_BOTTOM_OUTER,
    "eye_l_top": EYE_L_TOP,
    "eye_l_bottom": EYE_L_BOTTOM,
    "eye_l_outer": EYE_L_OUTER,
    "eye_l_inner": EYE_L_INNER,
    "eye_r_top": EYE_R_TOP,
    "eye_r_bottom": EYE_R_BOTTOM,
    "eye_r_outer": EYE_R_OUTER,
    "eye_r_inner": EYE_R_INNER,
    "brow_l_inner": BROW_L_INNER,
    "brow_l_mid": BROW_L_MID,
    "brow_l_outer": BROW_L_OUTER,
    "brow_r_inner": BROW_R_INNER,
    "brow_r_mid": BROW_R_MID,
    "brow_r_outer": BROW_R_OUTER,
    "nose_tip": NOSE_TIP,
    "nostril_l": NOSTRIL_L,
    "nostril_r": NOSTRIL_R,
    "chin": CHIN,
    "forehead": FOREHEAD,
    "cheek_l": CHEEK_L,
    "cheek_r": CHEEK_R,
}
_PAIRS = list(combinations(KEY_POINTS, 2))
# Index arrays of the pairs, so all pair distances are one vectorised call (this runs on every live frame).
_PAIR_A = np.array([KEY_POINTS[a] for a, _ in _PAIRS], dtype=np.intp)
_PAIR_B = np.array([KEY_POINTS[b] for _, b in _PAIRS], dtype=np.intp)


class _AlignedLandmarks(BaseEstimator, TransformerMixin):
    """Shared fit: learn the reference mesh of the training faces."""

    alignment: Alignment

    def fit(self, x: np.ndarray, y: Any = None) -> _AlignedLandmarks:
        if self.alignment not in ALIGNMENTS:
            raise ValueError(f"unknown alignment {self.alignment!r}; valid: {', '.join(ALIGNMENTS)}")
        landmarks, _, _ = split_raw(x)
        self.reference_ = fit_reference(landmarks, self.alignment).astype(np.float32)
        return self

    def _aligned(self, x: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "reference_")
        landmarks, _, _ = split_raw(x)
        return align_shapes(landmarks, self.reference_, self.alignment)


class Landmarks3D(_AlignedLandmarks):
    """All 478 points in 3D, normalised for position, scale and pose by alignment onto the reference mesh."""

    def __init__(self, alignment: Alignment = "affine") -> None:
        self.alignment = alignment

    def transform(self, x: np.ndarray) -> np.ndarray:
        aligned = self._aligned(x)
        return (aligned - self.reference_).reshape(len(aligned), -1).astype(np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"lm_{c}" for c in LANDMARK_COLUMNS], dtype=object)


def _dist(p: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.asarray(np.linalg.norm(p[:, a] - p[:, b], axis=1))


class GeometryFeatures(_AlignedLandmarks):
    """Named measurements on the aligned face: mouth and eye openness, brow raise, mouth-corner angles and lift,
    and the distances between key points, all divided by the inter-ocular distance."""

    NAMES: tuple[str, ...] = (
        "mouth_open",
        "mouth_width",
        "mouth_aspect",
        "lips_outer_open",
        "eye_open_left",
        "eye_open_right",
        "brow_raise_left",
        "brow_raise_right",
        "brow_inner_raise_left",
        "brow_inner_raise_right",
        "brow_gap",
        "mouth_corner_angle_left",
        "mouth_corner_angle_right",
        "mouth_corner_lift_left",
        "mouth_corner_lift_right",
        "nose_to_lip",
        "jaw_drop",
        "nostril_width",
    )

    def __init__(self, alignment: Alignment = "affine") -> None:
        self.alignment = alignment

    def transform(self, x: np.ndarray) -> np.ndarray:
        p = self._aligned(x)
        iod = np.maximum(_dist(p, EYE_L_OUTER, EYE_R_OUTER), 1e-9)

        def rel(a: int, b: int) -> np.ndarray:
            return _dist(p, a, b) / iod

        mouth_open = rel(LIP_TOP, LIP_BOTTOM)
        mouth_width = rel(MOUTH_LEFT, MOUTH_RIGHT)
        # Face frame in the image plane: x along the eye line (towards the subject's left), y pointing down.
        ex = p[:, EYE_L_OUTER, :2] - p[:, EYE_R_OUTER, :2]
        ex /= np.maximum(np.linalg.norm(ex, axis=1, keepdims=True), 1e-9)
        ey = np.stack([-ex[:, 1], ex[:, 0]], axis=1)
        centre = (p[:, LIP_TOP, :2] + p[:, LIP_BOTTOM, :2]) / 2
        vl = p[:, MOUTH_LEFT, :2] - centre
        vr = p[:, MOUTH_RIGHT, :2] - centre
        up_l, up_r = -(vl * ey).sum(axis=1), -(vr * ey).sum(axis=1)  # positive when the corner is raised
        out_l, out_r = (vl * ex).sum(axis=1), -(vr * ex).sum(axis=1)
        named = [
            mouth_open,
            mouth_width,
            mouth_open / np.maximum(mouth_width, 1e-9),
            rel(LIP_TOP_OUTER, LIP_BOTTOM_OUTER),
            _dist(p, EYE_L_TOP, EYE_L_BOTTOM) / np.maximum(_dist(p, EYE_L_OUTER, EYE_L_INNER), 1e-9),
            _dist(p, EYE_R_TOP, EYE_R_BOTTOM) / np.maximum(_dist(p, EYE_R_OUTER, EYE_R_INNER), 1e-9),
            rel(BROW_L_MID, EYE_L_TOP),
            rel(BROW_R_MID, EYE_R_TOP),
            rel(BROW_L_INNER, EYE_L_INNER),
            rel(BROW_R_INNER, EYE_R_INNER),
            rel(BROW_L_INNER, BROW_R_INNER),
            np.arctan2(up_l, out_l),
            np.arctan2(up_r, out_r),
            up_l / iod,
            up_r / iod,
            rel(NOSE_TIP, LIP_TOP_OUTER),
            rel(NOSE_TIP, CHIN),
            rel(NOSTRIL_L, NOSTRIL_R),
        ]
        pairs = np.linalg.norm(p[:, _PAIR_A] - p[:, _PAIR_B], axis=2) / iod[:, None]
        return np.hstack([np.stack(named, axis=1), pairs]).astype(np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([*self.NAMES, *(f"d_{a}__{b}" for a, b in _PAIRS)], dtype=object)


class Blendshapes(BaseEstimator, TransformerMixin):
    """The 52 MediaPipe blendshape scores as they are."""

    def fit(self, x: np.ndarray, y: Any = None) -> Blendshapes:
        split_raw(x)  # validates the width
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        _, blendshapes, _ = split_raw(x)
        return np.asarray(blendshapes, dtype=np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"bs_{n}" for n in BLENDSHAPE_NAMES], dtype=object)
