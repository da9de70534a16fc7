"""Saving the current webcam frame into the dataset store (source "webcam").

By default a snapshot goes to the unlabeled pool. A model's prediction is only ever a suggestion: a frame saved
with it stays in the pool (label source "model") until a person confirms it in active learning; only a label a
person picks puts it straight into the training set.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from core.auth import Permission, require
from core.errors import StudioError
from core.imaging import encode_png
from core.labels import normalize_label
from core.live.processor import FrameResult
from core.store.repository import AddResult, Store

SnapshotLabel = Literal["pool", "human", "prediction"]
DEFAULT_SNAPSHOT: SnapshotLabel = "pool"


def save_snapshot(
    store: Store,
    rgb: np.ndarray,
    *,
    how: SnapshotLabel = DEFAULT_SNAPSHOT,
    result: FrameResult | None = None,
    label: str | None = None,
) -> AddResult:
    """Store the frame unlabeled in the pool (the default), in the training set with a label the user picked, or in
    the pool with the model's prediction as a suggestion for review.

    The prediction travels in the record's attributes either way, so active learning can compare it later.
    """
    user = require(Permission.SAVE_SNAPSHOT)
    face = result.main_face if result is not None else None
    attributes: dict[str, object] = {"saved_by": user.id}
    if face is not None and result is not None:
        attributes |= {"predicted": face.emotion, "confidence": round(face.confidence, 4), "model_id": result.model_id}
    if how == "prediction":
        if face is None:
            raise StudioError("no face in the current frame to label it with: pick a label or send it to the pool")
        emotion, label_source, status = face.emotion, "model", "pool"  # a suggestion, not training data
    elif how == "human":
        if not label:
            raise StudioError("pick a label for the snapshot")
        emotion, label_source, status = normalize_label(label), "human", "train"
    elif how == "pool":
        emotion, label_source, status = None, None, "pool"
    else:
        raise ValueError(f"unknown snapshot labeling {how!r}; valid: pool, human, prediction")
    return store.add_image(
        encode_png(rgb),
        original_name="webcam-snapshot.png",
        source="webcam",
        emotion=emotion,
        label_source=label_source,
        status=status,
        attributes=attributes,
    )
