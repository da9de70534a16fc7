"""Landmark extraction with the real MediaPipe Face Landmarker on real face photos."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import ModelFileCorrupt
from core.imaging import encode_jpeg, encode_png
from core.landmarks.batch import extract_store
from core.landmarks.extractor import LandmarkExtractor
from core.schema import BLENDSHAPE_NAMES, NUM_LANDMARKS
from core.settings import Settings
from core.store import Store


@pytest.fixture(scope="module")
def extractor() -> LandmarkExtractor:
    ex = LandmarkExtractor(Settings(_env_file=None))  # type: ignore[call-arg]
    yield ex
    ex.close()


def test_real_face_has_478_landmarks_and_a_smile(extractor: LandmarkExtractor, astronaut_rgb: np.ndarray) -> None:
    out = extractor.extract(astronaut_rgb)
    assert out.state == "ok" and out.num_faces == 1
    assert out.face is not None
    assert out.face.landmarks.shape == (NUM_LANDMARKS, 3)
    scores = dict(zip(BLENDSHAPE_NAMES, out.face.blendshapes, strict=True))
    assert scores["mouthSmileLeft"] > 0.5 and scores["mouthSmileRight"] > 0.5
    x0, y0, x1, y1 = out.face.bbox
    # The face sits in the upper middle of the photo.
    assert 0.25 < x0 < x1 < 0.65 and 0.05 < y0 < y1 < 0.45
    assert out.face.transform.shape == (4, 4)


def test_blendshape_names_match_the_model(extractor: LandmarkExtractor, astronaut_rgb: np.ndarray) -> None:
    import mediapipe as mp

    result = extractor._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=astronaut_rgb))
    assert [c.category_name for c in result.face_blendshapes[0]] == list(BLENDSHAPE_NAMES)


def test_no_face(extractor: LandmarkExtractor) -> None:
    gradient = np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (256, 1))
    out = extractor.extract_bytes(encode_png(np.dstack([gradient] * 3)))
    assert out.state == "no_face" and out.face is None and "no face" in out.reason


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"", "empty"), (b"just some text", "not an image")],
)
def test_unreadable_bytes_are_errors_not_exceptions(extractor: LandmarkExtractor, payload: bytes, reason: str) -> None:
    out = extractor.extract_bytes(payload)
    assert out.state == "error" and reason in out.reason


def test_corrupt_jpeg(extractor: LandmarkExtractor, astronaut_rgb: np.ndarray) -> None:
    data = bytearray(encode_jpeg(astronaut_rgb))
    data[400:] = np.random.default_rng(1).integers(0, 256, len(data) - 400, dtype=np.uint8).tobytes()
    out = extractor.extract_bytes(bytes(data))
    assert out.state in {"error", "no_face"}  # never an exception; garbage pixels hold no face


def test_huge_image_is_downscaled(extractor: LandmarkExtractor, astronaut_rgb: np.ndarray) -> None:
    big = cv2.resize(astronaut_rgb, (3200, 3200), interpolation=cv2.INTER_LINEAR)
    out = extractor.extract(big)
    assert out.state == "ok" and "downscaled from 3200x3200" in out.reason


def test_tight_crop_is_padded(extractor: LandmarkExtractor, astronaut_rgb: np.ndarray) -> None:
    tight = np.ascontiguousarray(astronaut_rgb[85:165, 185:265])  # forehead and chin cut off
    out = extractor.extract(tight)
    assert out.state == "ok" and "tight crop" in out.reason
    assert out.face is not None and out.face.landmarks[:, 1].min() < 0.02  # landmarks reach past the border


def test_several_faces_keep_the_largest(extractor: LandmarkExtractor, astronaut_rgb: np.ndarray) -> None:
    face = astronaut_rgb[20:260, 120:340]
    small = cv2.resize(face, (face.shape[1] * 2 // 3, face.shape[0] * 2 // 3))
    canvas = np.full((300, 420, 3), 128, np.uint8)
    canvas[20:260, 0:220] = face
    canvas[60 : 60 + small.shape[0], 250 : 250 + small.shape[1]] = small
    out = extractor.extract(canvas)
    assert out.state == "ok" and out.num_faces == 2 and "kept the largest" in out.reason
    assert out.face is not None and out.face.bbox[2] < 0.6  # the big face on the left


def test_model_hash_is_verified(tmp_path: Path) -> None:
    bad = tmp_path / "face_landmarker.task"
    shutil.copy(Settings(_env_file=None).face_landmarker_path, bad)  # type: ignore[call-arg]
    with bad.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02")
    settings = Settings(_env_file=None, face_landmarker_path=bad)  # type: ignore[call-arg]
    with pytest.raises(ModelFileCorrupt, match="sha256"):
        LandmarkExtractor(settings)
    ok = hashlib.sha256(Settings(_env_file=None).face_landmarker_path.read_bytes()).hexdigest()  # type: ignore[call-arg]
    assert ok == settings.face_landmarker_sha256


@pytest.mark.slow
def test_batch_extraction_parallel_resumable(store: Store, face_variants: list, settings: Settings) -> None:
    """Two worker processes over the store; a second run only does what is new; bad files are recorded."""
    for i, img in enumerate(face_variants[:5]):
        store.add_image(encode_png(img), original_name=f"happy_{i}.png", emotion="happy", label_source="filename")
    # A truncated PNG: the header is fine (it imports), the pixels are not.
    broken = encode_png(face_variants[5])[:300]
    bad = store.add_image(broken, original_name="broken.png")
    seen: list[tuple[int, int]] = []
    report = extract_store(store, workers=2, progress=lambda d, t: seen.append((d, t)))
    assert report.processed == 6 and report.ok == 5 and report.errors + report.no_face == 1
    assert seen[-1] == (6, 6)
    assert store.get(bad.image_id).extraction.state in {"error", "no_face"}
    assert store.pending_extraction_ids() == []

    store.add_image(encode_png(face_variants[6]), original_name="sad_1.png", emotion="sad", label_source="filename")
    again = extract_store(store, workers=1)
    assert again.processed == 1 and again.ok == 1  # resumed: only the new image
