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
    store.save_extractions([(result.image_id, "ok", "", 1, face)])
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


def _pngs(face_variants: list, n: int) -> list[bytes]:
    from core.imaging import encode_png

    return [encode_png(v) for v in face_variants[:n]]


def test_transition_is_a_compare_and_set_on_version_and_status(store: Store, face_variants: list) -> None:
    [png] = _pngs(face_variants, 1)
    image_id = store.add_image(png).image_id  # unlabeled: pool, version 1
    assert not store.transition(image_id, expected_version=2, expected_status="pool", status="queued")
    assert not store.transition(image_id, expected_version=1, expected_status="train", status="queued")
    record = store.get(image_id)
    assert record is not None and (record.status, record.version) == ("pool", 1)

    assert store.transition(image_id, expected_version=1, expected_status="pool", status="queued")
    # The same card a second time (someone else's stale view) loses: exactly one winner.
    assert not store.transition(image_id, expected_version=1, expected_status="pool", status="queued")
    with store.transaction() as session:  # inside a caller's transaction, e.g. with an audit row
        assert store.transition(
            image_id,
            expected_version=2,
            expected_status="queued",
            session=session,
            status="train",
            emotion="sad",
            label_source="human",
        )
    record = store.get(image_id)
    assert record is not None and (record.status, record.emotion, record.version) == ("train", "sad", 3)


def test_a_failed_transaction_undoes_its_transition(store: Store, face_variants: list) -> None:
    [png] = _pngs(face_variants, 1)
    image_id = store.add_image(png).image_id
    with pytest.raises(RuntimeError, match="after the transition"), store.transaction() as session:
        assert store.transition(image_id, expected_version=1, expected_status="pool", status="queued", session=session)
        raise RuntimeError("failure after the transition")
    record = store.get(image_id)
    assert record is not None and (record.status, record.version) == ("pool", 1)


def test_transition_refuses_unknown_values_and_bookkeeping_fields(store: Store, face_variants: list) -> None:
    [png] = _pngs(face_variants, 1)
    image_id = store.add_image(png).image_id
    with pytest.raises(ValueError, match="unknown status"):
        store.transition(image_id, expected_version=1, expected_status="pool", status="archived")
    with pytest.raises(ValueError, match="cannot be changed"):
        store.transition(image_id, expected_version=1, expected_status="pool", version=7)
    with pytest.raises(ValueError, match="unknown image field"):
        store.transition(image_id, expected_version=1, expected_status="pool", colour="red")
    with pytest.raises(ValueError, match="cannot be changed"):
        store.update(image_id, sha256="0" * 64)


def test_transition_many_moves_only_images_in_the_from_status(store: Store, face_variants: list) -> None:
    pngs = _pngs(face_variants, 4)
    train = [store.add_image(p, emotion="happy", label_source="human").image_id for p in pngs[:3]]
    pool = store.add_image(pngs[3]).image_id
    assert store.transition_many([*train[:2], pool], from_status="train", to_status="test") == 2
    statuses = {r.id: (r.status, r.version) for r in store.list_images()}
    assert statuses == {train[0]: ("test", 2), train[1]: ("test", 2), train[2]: ("train", 1), pool: ("pool", 1)}
    assert store.transition_many(None, from_status="test", to_status="train") == 2
    assert store.count(Filters(statuses=["train"])) == 3
