"""Torch test data, imported by the conftests that need it.

A tiny YOLO dataset drawn in the test: filled discs and squares are the "faces", their colour is the class."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.imaging import encode_png
from core.landmarks.extractor import LandmarkExtractor
from core.settings import Settings
from core.store import Store

CLASS_NAMES = ("angry", "happy", "sad")
COLOURS = ((230, 40, 40), (40, 200, 40), (40, 60, 230))


Row = tuple[int, float, float, float, float]


def draw_image(rng: np.random.Generator, size: int, n_faces: int) -> tuple[np.ndarray, list[Row]]:
    img = np.full((size, size, 3), 20, dtype=np.uint8)
    img = np.clip(img.astype(np.int16) + rng.integers(0, 25, img.shape), 0, 255).astype(np.uint8)
    rows: list[Row] = []
    cells = rng.permutation(4)[:n_faces]  # one face per quadrant, so faces never overlap
    for cell in cells:
        cls = int(rng.integers(0, len(CLASS_NAMES)))
        half = size / 2
        w = float(rng.uniform(0.22, 0.4)) * size
        ox, oy = (cell % 2) * half, (cell // 2) * half
        cx = ox + float(rng.uniform(w / 2, half - w / 2))
        cy = oy + float(rng.uniform(w / 2, half - w / 2))
        colour = tuple(int(c) for c in COLOURS[cls])
        if rng.random() < 0.5:
            cv2.circle(img, (round(cx), round(cy)), round(w / 2), colour, -1)
        else:
            p0, p1 = (round(cx - w / 2), round(cy - w / 2)), (round(cx + w / 2), round(cy + w / 2))
            cv2.rectangle(img, p0, p1, colour, -1)
        rows.append((cls, cx / size, cy / size, w / size, w / size))
    return img, rows


def write_dataset(root: Path, *, n_train: int = 8, n_valid: int = 4, size: int = 96, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "data.yaml").write_text("names: [" + ", ".join(CLASS_NAMES) + "]\n")
    for split, n in (("train", n_train), ("valid", n_valid)):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
        for i in range(n):
            img, rows = draw_image(rng, size, 1 + i % 3)
            (root / split / "images" / f"img{i}.png").write_bytes(encode_png(img))
            text = "".join(f"{c} {cx:.5f} {cy:.5f} {w:.5f} {h:.5f}\n" for c, cx, cy, w, h in rows)
            (root / split / "labels" / f"img{i}.txt").write_text(text)
    return root


@pytest.fixture(scope="module")
def synthetic_yolo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A YOLO folder with 8 train and 4 valid images of 96 px."""
    return write_dataset(tmp_path_factory.mktemp("yolo"))


@pytest.fixture(autouse=True)
def _one_torch_thread() -> None:
    # The CI machine has two cores shared with other jobs: keep torch to one thread in tests.
    torch.set_num_threads(1)


@pytest.fixture
def face_store(store: Store, settings: Settings, face_variants: list[np.ndarray]) -> Store:
    """Six real face photos (augmented astronaut) extracted by MediaPipe; three persons, two emotions."""
    with LandmarkExtractor(settings) as extractor:
        for i, rgb in enumerate(face_variants[:6]):
            added = store.add_image(
                encode_png(rgb), emotion="happy" if i % 2 else "sad", label_source="human", person=f"p{i % 3}"
            )
            outcome = extractor.extract(rgb)
            store.save_extractions([(added.image_id, outcome.state, "", outcome.num_faces, outcome.face)])
    return store
