"""Shared builders for the active-learning tests: a real store with a pool of real faces, and a real model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from core.active_learning.pool import add_to_pool, extract_pool
from core.auth import Role, User, acting_as
from core.features import build_features, faces_to_matrix
from core.imaging import encode_png
from core.models.registry import ModelCard
from core.store import Store
from core.training.landmark_artifact import LandmarkModel

T = TypeVar("T")


def no_face_png() -> bytes:
    """A smooth gradient: a valid image in which MediaPipe finds no face."""
    ramp = np.linspace(0, 255, 160, dtype=np.float32)
    rgb = np.stack([np.tile(ramp, (120, 1))] * 3, axis=-1).astype(np.uint8)
    return encode_png(rgb)


def add_labeled(store: Store, variants: list[np.ndarray]) -> None:
    """Each variant as a human-labeled training image (happy and sad in turn), one person each."""
    for i, rgb in enumerate(variants):
        store.add_image(
            encode_png(rgb),
            original_name=f"l{i}.png",
            emotion="happy" if i % 2 else "sad",
            label_source="human",
            person=f"p{i}",
        )


def fill_pool(store: Store, variants: list[np.ndarray], n: int = 8) -> dict[str, list[int]]:
    """`n` face variants, a resized copy of the first (a near-duplicate) and a no-face image, all extracted."""
    items = [(f"face_{i:02d}.png", encode_png(v)) for i, v in enumerate(variants[:n])]
    items.append(("copy_of_00.png", encode_png(np.ascontiguousarray(cv2.resize(variants[0], None, fx=0.8, fy=0.8)))))
    items.append(("empty.png", no_face_png()))
    report = add_to_pool(store, items)
    assert report.added == len(items), report.skipped
    extract_pool(store, workers=1)
    ids = report.image_ids
    return {"faces": ids[:n], "copy": [ids[n]], "no_face": [ids[n + 1]]}


def tiny_model(store: Store) -> LandmarkModel:
    """A real logistic regression on blendshapes, fitted on the pool faces with made-up labels (it only needs to
    produce varied probabilities)."""
    faces = [f for _, f in store.faces()]
    x = faces_to_matrix(faces)
    y = np.array(["happy", "sad", "neutral"] * len(faces))[: len(faces)]
    pipe = Pipeline(
        [("features", build_features(["blendshapes"])), ("scale", StandardScaler()), ("clf", LogisticRegression())]
    )
    pipe.fit(x, y)
    card = ModelCard(id="test-model", kind="landmark", name="logistic_regression", classes=["happy", "neutral", "sad"])
    return LandmarkModel(card, pipe)


def as_reviewer(name: str, action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call an approval action as the signed-in labeler `name` (decisions take the acting user's identity)."""
    with acting_as(User(name, Role.LABELER)):
        return action(*args, **kwargs)
