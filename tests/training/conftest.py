"""Real landmarks of the augmented face photos (extracted once per session with real MediaPipe), a small labeled
store built from them, and a trained landmark model in a temporary registry."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.neighbors import KNeighborsClassifier

from core.auth import LOCAL_USER
from core.features.raw import faces_to_matrix
from core.imaging import encode_png
from core.jobs import Job, JobQueue
from core.landmarks.extractor import LandmarkExtractor
from core.models.registry import Registry
from core.records import FaceData
from core.settings import Settings
from core.store import Store
from core.training.data import TrainingData
from tests.torch_data import _one_torch_thread, face_store  # noqa: F401  (fixtures of the torch tests here)

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
        store.save_extractions([(image_id, "ok", "", 1, face)])
        ids.append(image_id)
    return ids


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


# ---- evaluation suites (tests/suites/test_suites.py, test_suite_page.py) -------------------------------------
def save_landmark_model(registry: Registry, store: Store, clf: object, name: str) -> str:
    """A landmark model (landmark features + `clf`) fitted on the store's training faces, saved as `name`."""
    from sklearn.pipeline import Pipeline

    from core.features import build_features
    from core.training.data import from_store
    from core.training.landmark_artifact import save_model
    from core.training.report import ModelReport

    data = from_store(store)
    pipe = Pipeline([("features", build_features(["landmarks"])), ("clf", clf)]).fit(data.x, data.y)
    report = ModelReport(name, ["landmarks"], 0.0, 0.0, 0.0, 0.0, [], [], {}, {}, 0.0, 0.0, len(data), 0)
    return save_model(registry, pipe, report, classes=data.classes, data_hash=data.data_hash, model_id=name).id


@pytest.fixture(scope="session")
def suite_sets(tmp_path_factory: pytest.TempPathFactory, face_variants: list[np.ndarray]) -> dict[str, Path]:
    """Two domains as folders of labeled images (labels from the folder names): `web`, the variants scaled to 90%
    (new bytes, so none is a training image), and `low-res`, the variants at 160 pixels wide plus a grey image
    labeled happy, where MediaPipe finds no face (a wrong answer for every model)."""
    root = tmp_path_factory.mktemp("suite_sets")
    for i, rgb in enumerate(face_variants):
        label = CLASSES[i % 2]
        h, w = rgb.shape[:2]
        if i < 8:
            folder, size = root / "web" / label, (int(w * 0.9), int(h * 0.9))
        else:
            folder, size = root / "lowres" / label, (160, int(160 * h / w))
        folder.mkdir(parents=True, exist_ok=True)
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        (folder / f"v{i}.png").write_bytes(encode_png(np.ascontiguousarray(small)))
    (root / "lowres" / "happy" / "blank.png").write_bytes(encode_png(np.full((120, 120, 3), 128, np.uint8)))
    return {"web": root / "web", "low-res": root / "lowres"}


def store_with_two_models(
    settings: Settings, variant_faces: list[tuple[bytes, FaceData, str]]
) -> tuple[Store, Registry]:
    """Training faces in the store and two landmark models: 1-nearest-neighbour ("good") and always-happy."""
    store = Store(settings)
    fill_store(store, variant_faces)
    registry = Registry(settings.models_dir)
    save_landmark_model(registry, store, KNeighborsClassifier(n_neighbors=1), "good")
    save_landmark_model(registry, store, DummyClassifier(strategy="constant", constant="happy"), "constant")
    return store, registry


def wait_for_latest_job(settings: Settings, kind: str, what: str) -> Job:
    """The local user's newest job of `kind` once done: a page queued it and the worker process it started runs it."""
    queue = JobQueue(settings)
    deadline = time.monotonic() + 240
    while (job := queue.latest(kind, LOCAL_USER.id)) is None or not job.finished:
        assert time.monotonic() < deadline, f"{what} did not finish in time"
        time.sleep(0.5)
    assert job.status == "done", job.error
    return job


@pytest.fixture
def trained(app_env: Settings, variant_faces: list[tuple[bytes, FaceData, str]]) -> tuple[Store, Registry]:
    """Training faces in the store and two landmark models: 1-nearest-neighbour ("good") and always-happy."""
    return store_with_two_models(app_env, variant_faces)
