"""Pose and scale normalisation of 3D landmarks: alignment of every face onto a reference mesh.

The reference is the generalized-Procrustes mean of the training faces, learned in `fit` (so it is fitted inside
each cross-validation fold) and saved with the model. "similarity" removes position, scale and 3D rotation;
"affine" also removes the anisotropic stretch of exported datasets (non-square photos resized to squares), which a
similarity cannot undo. Expression deformations are local, so a global 12-parameter fit over 478 points keeps them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Alignment = Literal["similarity", "affine"]
ALIGNMENTS: tuple[str, ...] = ("similarity", "affine")
_PROCRUSTES_ROUNDS = 3


def normalize_shapes(shapes: np.ndarray) -> np.ndarray:
    """Centre each (478, 3) shape on its centroid and scale it to unit RMS size."""
    centered = shapes - shapes.mean(axis=1, keepdims=True)
    size = np.sqrt((centered**2).sum(axis=(1, 2), keepdims=True) / shapes.shape[1])
    return centered / np.maximum(size, 1e-9)


def align_shapes(shapes: np.ndarray, reference: np.ndarray, alignment: Alignment) -> np.ndarray:
    """Align (n, 478, 3) shapes onto a centred, unit-size (478, 3) reference."""
    x = normalize_shapes(np.asarray(shapes, dtype=np.float64))
    ref = np.asarray(reference, dtype=np.float64)
    if alignment == "affine":
        # Least squares A minimising |x A - ref| per face: A = (x^T x)^-1 x^T ref.
        xt = x.transpose(0, 2, 1)
        a = np.linalg.solve(xt @ x + 1e-9 * np.eye(3), xt @ ref)
        return np.asarray(x @ a)
    if alignment != "similarity":
        raise ValueError(f"unknown alignment {alignment!r}; valid: {', '.join(ALIGNMENTS)}")
    # Orthogonal Procrustes per face (Kabsch), without reflections.
    u, _, vt = np.linalg.svd(x.transpose(0, 2, 1) @ ref)
    d = np.sign(np.linalg.det(u @ vt))
    u[:, :, -1] *= d[:, None]
    return np.asarray(x @ (u @ vt))


def fit_reference(shapes: np.ndarray, alignment: Alignment) -> np.ndarray:
    """Generalized Procrustes mean shape: align all faces to the running mean a few times."""
    x = normalize_shapes(np.asarray(shapes, dtype=np.float64))
    if len(x) == 0:
        raise ValueError("cannot fit a reference mesh on zero faces")
    reference = normalize_shapes(x.mean(axis=0, keepdims=True))[0]
    for _ in range(_PROCRUSTES_ROUNDS):
        # Similarity rounds only: an affine mean could drift into a degenerate (flattened) shape.
        aligned = align_shapes(x, reference, "similarity")
        reference = normalize_shapes(aligned.mean(axis=0, keepdims=True))[0]
    return reference
