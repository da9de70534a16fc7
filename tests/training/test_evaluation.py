"""Evaluation of a saved model on a tiny folder and a manifest: a corrupt file and a face-less image included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import DatasetFormatError
from core.evaluation import EvalItem, evaluate_items, items_from_path
from core.imaging import encode_jpeg, encode_png
from core.inference import Recognizer
from core.landmarks.extractor import LandmarkExtractor
from core.models.registry import Registry
from core.settings import Settings
from core.training.compare import compare_models
from core.training.data import TrainingData
from core.training.landmark_artifact import save_comparison


@pytest.fixture
def recognizer(variant_data: TrainingData, models_dir: Path) -> Iterator[Recognizer]:
    registry = Registry(models_dir)
    result = compare_models(variant_data, models=["svm"], grids={"svm": {"clf__C": [1.0]}}, folds=3)
    card = save_comparison(registry, result)["svm"]
    extractor = LandmarkExtractor(mode="image")
    yield Recognizer(registry.load(card.id), extractor)
    extractor.close()


@pytest.fixture
def folder(tmp_path: Path, face_variants: list[np.ndarray]) -> Path:
    root = tmp_path / "eval"
    (root / "surprise").mkdir(parents=True)
    (root / "happy_0.png").write_bytes(encode_png(face_variants[0]))
    (root / "surprise" / "face1.jpg").write_bytes(encode_jpeg(face_variants[1]))
    (root / "unlabeled.png").write_bytes(encode_png(face_variants[2]))
    (root / "sad_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    sky = np.zeros((240, 320, 3), np.uint8)
    sky[:] = np.linspace(60, 200, 320, dtype=np.uint8)[None, :, None]
    (root / "happy_sky.png").write_bytes(encode_png(sky))
    (root / "notes.txt").write_text("ignored side file")
    return root


def test_folder_items_take_labels_from_names_and_folders(folder: Path) -> None:
    items = {p.path.name: p.label for p in items_from_path(folder)}
    assert items == {
        "happy_0.png": "happy",
        "face1.jpg": "surprise",
        "unlabeled.png": None,
        "sad_broken.jpg": "sad",
        "happy_sky.png": "happy",
    }


def test_evaluation_survives_corrupt_and_faceless_files(recognizer: Recognizer, folder: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    result = evaluate_items(recognizer, items_from_path(folder), progress=lambda d, t: seen.append((d, t)))
    frame = result.predictions
    assert list(frame.columns) == ["path", "label", "predicted", "confidence", "face_found", "error"]
    assert len(frame) == 5 and seen[-1] == (5, 5)
    assert [Path(p).name for p in result.no_face] == ["happy_sky.png"]
    assert [Path(p).name for p, _ in result.errors] == ["sad_broken.jpg"]
    assert "not an image" in result.errors[0][1]  # a JPEG signature followed by garbage
    faces = frame[frame["face_found"]]
    assert len(faces) == 3 and faces["predicted"].isin(["happy", "surprise"]).all()
    assert result.metrics is not None and result.metrics["n_scored"] == 2  # the labeled images with a face
    cm = np.asarray(result.metrics["confusion_matrix"])
    assert cm.sum() == 2 and 0.0 <= result.metrics["accuracy"] <= 1.0
    out = tmp_path / "preds.csv"
    result.to_csv(out)
    assert len(pd.read_csv(out)) == 5


def test_manifest_paths_are_relative_to_the_csv(folder: Path, recognizer: Recognizer) -> None:
    manifest = folder / "manifest.csv"
    manifest.write_text("path,label\nhappy_0.png,happy\nsurprise/face1.jpg,Surprised\nmissing.png,sad\n")
    items = items_from_path(manifest)
    assert items == [
        EvalItem(folder / "happy_0.png", "happy"),
        EvalItem(folder / "surprise" / "face1.jpg", "surprise"),
        EvalItem(folder / "missing.png", "sad"),
    ]
    result = evaluate_items(recognizer, items)
    assert "cannot read file" in result.errors[0][1] and result.metrics is not None


def test_bad_manifests_and_paths_have_clear_messages(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\na.png,happy\n")
    with pytest.raises(DatasetFormatError, match="'path' column"):
        items_from_path(bad)
    bad.write_text("path,label\na.png,grumpy\n")
    with pytest.raises(DatasetFormatError, match="line 2"):
        items_from_path(bad)
    with pytest.raises(DatasetFormatError, match="does not exist"):
        items_from_path(tmp_path / "nope")


@pytest.mark.slow
def test_folder_evaluation_on_ray_matches_local(
    recognizer: Recognizer, folder: Path, settings: Settings, ray_settings: Settings
) -> None:
    """EXECUTOR=ray: the items fan out over actors holding the model; same rows, same order, bad files still rows."""
    items = items_from_path(folder)
    local = evaluate_items(recognizer, items, settings=settings)
    seen: list[tuple[int, int]] = []
    spread = evaluate_items(recognizer, items, settings=ray_settings, progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    pd.testing.assert_frame_equal(
        spread.predictions.drop(columns="confidence"), local.predictions.drop(columns="confidence")
    )
    np.testing.assert_allclose(
        spread.predictions["confidence"].astype(float), local.predictions["confidence"].astype(float), atol=1e-4
    )
    assert spread.errors == local.errors and spread.no_face == local.no_face and len(spread.errors) == 1
