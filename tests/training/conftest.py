"""Real landmarks of the augmented face photos (extracted once per session with real MediaPipe), a small labeled
store built from them, and a trained landmark model in a temporary registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.features.raw import faces_to_matrix
from core.imaging import encode_png
from core.landmarks.extractor import LandmarkExtractor
from core.records import FaceData
from core.settings import Settings
from core.store import Store
from core.training.data import TrainingData

# Plumbing labels: unflipped variants are "happy", mirrored ones "surprise" (the models need not learn this).
CLASSES = ("happy", "surprise")


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    """Two cores are shared by everyone: keep BLAS and torch to one thread."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


@pytest.fixture(scope="session")
def variant_faces(face_variants: list[np.ndarray]) -> list[tuple[bytes, FaceData, str]]:
    """(png bytes, face, plumbing label) of every face variant MediaPipe finds a face in."""
    out = []
    with LandmarkExtractor(Settings(_env_file=None), mode="image") as extractor:  # type: ignore[call-arg]
        for i, rgb in enumerate(face_variants):
            outcome = extractor.extract(rgb)
            if outcome.face is not None:
                out.append((encode_png(rgb), outcome.face, CLASSES[i % 2]))
    assert len(out) >= 10, "MediaPipe should find the face in nearly every variant"
    return out


@pytest.fixture(scope="session")
def variant_data(variant_faces: list[tuple[bytes, FaceData, str]]) -> TrainingData:
    return TrainingData(
        x=faces_to_matrix([f for _, f, _ in variant_faces]),
        y=np.asarray([label for _, _, label in variant_faces]),
        data_hash="test",
    )


def fill_store(store: Store, variant_faces: list[tuple[bytes, FaceData, str]]) -> list[int]:
    """Add every variant as a labeled image with its extraction; returns the image ids."""
    ids = []
    for i, (png, face, label) in enumerate(variant_faces):
        image_id = store.add_image(png, original_name=f"v{i}.png", emotion=label, label_source="human").image_id
        store.save_extraction(image_id, state="ok", num_faces=1, face=face)
        ids.append(image_id)
    return ids


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"
