"""The dataset store on a real SQLite database and real files."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import event

from core.errors import ImageNotReadable
from core.records import FaceData
from core.store import Store
from core.store.repository import Filters


def test_round_trip(store: Store, astronaut_png: bytes) -> None:
    result = store.add_image(
        astronaut_png,
        original_name="happy_0001.png",
        emotion="happy",
        label_source="filename",
        person="eileen",
        age="40s",
        sex="female",
        tags=["nasa"],
        attributes={"k": 1},
    )
    assert result.created
    record = store.get(result.image_id)
    assert record is not None
    assert (record.emotion, record.status, record.person, record.age, record.tags) == (
        "happy",
        "train",
        "eileen",
        "40s",
        ["nasa"],
    )
    assert (record.width, record.height) == (512, 512)
    assert store.read_bytes(record) == astronaut_png
    assert record.path.startswith("images/") and record.sha256 in record.path

    face = FaceData(
        landmarks=np.random.default_rng(0).random((478, 3), dtype=np.float32),
        blendshapes=np.linspace(0, 1, 52, dtype=np.float32),
        transform=np.eye(4, dtype=np.float32),
        bbox=(0.1, 0.2, 0.3, 0.4),
    )
    store.save_extraction(result.image_id, state="ok", num_faces=1, face=face)
    [(rec, got)] = store.faces()
    assert rec.id == result.image_id
    np.testing.assert_array_equal(got.landmarks, face.landmarks)
    np.testing.assert_array_equal(got.blendshapes, face.blendshapes)
    assert got.bbox == pytest.approx(face.bbox)
    assert store.extraction_counts() == {"ok": 1, "pending": 0}


def test_unlabeled_goes_to_pool_and_filters(store: Store, astronaut_png: bytes, face_variants: list) -> None:
    from core.imaging import encode_png

    store.add_image(astronaut_png, emotion="happy", label_source="filename")
    store.add_image(encode_png(face_variants[0]))
    assert store.counts_by("status") == {"train": 1, "pool": 1}
    assert store.counts_by("emotion") == {"happy": 1, "unlabeled": 1}
    assert store.count(Filters(statuses=["pool"])) == 1
    assert store.count(Filters(labeled_only=True)) == 1


def test_duplicate_import_is_a_noop(store: Store, astronaut_png: bytes) -> None:
    first = store.add_image(astronaut_png, original_name="a.png")
    second = store.add_image(astronaut_png, original_name="copy.png", emotion="sad", label_source="filename")
    assert first.created and not second.created
    assert first.image_id == second.image_id
    assert store.count() == 1
    assert store.get(first.image_id).emotion is None  # the no-op changed nothing
    assert len(list((store.data_root / "images").rglob("*.png"))) == 1


@pytest.mark.parametrize("payload", [b"", b"hello, I am a text file\n", b"\x89PNG\r\n\x1a\n" + b"\x00" * 3])
def test_empty_and_non_image_bytes_are_refused(store: Store, payload: bytes) -> None:
    with pytest.raises(ImageNotReadable):
        store.add_image(payload, original_name="bad.png")
    assert store.count() == 0
    assert store.orphan_files() == []


def test_failed_commit_leaves_no_record_and_no_file(store: Store, astronaut_png: bytes) -> None:
    """A crash between writing the file and committing the row must leave neither behind."""

    def boom(session: object) -> None:
        raise RuntimeError("injected failure before commit")

    event.listen(store.engine, "commit", boom)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            store.add_image(astronaut_png, original_name="x.png")
    finally:
        event.remove(store.engine, "commit", boom)
    assert store.count() == 0
    assert list((store.data_root / "images").rglob("*.*")) == []
    # and the store still works afterwards
    assert store.add_image(astronaut_png).created


def test_invalid_vocabulary_is_refused(store: Store, astronaut_png: bytes) -> None:
    with pytest.raises(ValueError, match="unknown status"):
        store.add_image(astronaut_png, status="archived")
    with pytest.raises(ValueError, match="unknown source"):
        store.add_image(astronaut_png, source="internet")
