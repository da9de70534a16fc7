"""`Store.add_images`: many images in one transaction, with the same guarantees as `add_image`."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from core.errors import ImageNotReadable
from core.imaging import encode_png
from core.store import Store


def _images(store: Store) -> list:
    return sorted(p for p in (store.data_root / "images").rglob("*") if p.is_file())


def test_a_batch_stores_every_image_once_in_order(store: Store, face_variants: list) -> None:
    a, b, c = (encode_png(v) for v in face_variants[:3])
    before = store.add_image(c, original_name="c.png")
    results = store.add_images([(a, {"original_name": "a.png", "emotion": "happy"}), (b, {}), (a, {}), (c, {})])
    assert [r.created for r in results] == [True, True, False, False]
    assert results[2].image_id == results[0].image_id  # the same bytes twice in one batch: one image
    assert results[3].image_id == before.image_id  # already stored: a no-op
    assert store.count() == 3
    record = store.get(results[0].image_id)
    assert record is not None and (record.original_name, record.emotion, record.status) == ("a.png", "happy", "train")
    assert store.read_bytes(record) == a
    assert len(_images(store)) == 3 and store.orphan_files() == []


def test_one_bad_item_stores_nothing(store: Store, face_variants: list) -> None:
    good = encode_png(face_variants[0])
    with pytest.raises(ImageNotReadable):
        store.add_images([(good, {}), (b"not an image", {})])
    with pytest.raises(ValueError, match="unknown status"):
        store.add_images([(good, {}), (good, {"status": "archived"})])
    assert store.count() == 0
    assert not (store.data_root / "images").exists() or _images(store) == []


def test_a_failed_commit_leaves_no_row_and_no_file(store: Store, face_variants: list) -> None:
    pngs = [encode_png(v) for v in face_variants[:4]]

    def boom(session: object) -> None:
        raise RuntimeError("injected failure before commit")

    event.listen(store.engine, "commit", boom)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            store.add_images([(p, {}) for p in pngs])
    finally:
        event.remove(store.engine, "commit", boom)
    assert store.count() == 0
    assert _images(store) == []
    assert all(r.created for r in store.add_images([(p, {}) for p in pngs]))  # the store works afterwards


def test_a_failed_temp_write_leaves_no_temp_file(tmp_path) -> None:
    from core.store import files

    (tmp_path / "not-a-folder").write_bytes(b"")
    with pytest.raises(OSError):
        files.write_temps([(tmp_path / "a", b"1"), (tmp_path / "not-a-folder", b"2"), (tmp_path / "b", b"3")])
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["not-a-folder"]
    written = files.write_temps([(tmp_path / "a", b"1"), (tmp_path / "b", b"3")])
    assert [p.read_bytes() for p in written] == [b"1", b"3"]


def test_a_race_with_another_writer_gives_the_existing_id(store: Store, face_variants: list) -> None:
    """Another writer stores the same bytes between the batch's look-up and its insert: the batch falls back to one
    image at a time, and the raced image is a no-op giving the other writer's id."""
    from sqlalchemy.orm import Session

    a, b = (encode_png(v) for v in face_variants[:2])
    raced: list[int] = []

    def race(session: Session, *_: object) -> None:
        if not raced:
            raced.append(0)
            raced[0] = store.add_image(a, original_name="other.png").image_id

    event.listen(Session, "before_flush", race)
    try:
        results = store.add_images([(a, {"original_name": "a.png"}), (b, {"original_name": "b.png"})])
    finally:
        event.remove(Session, "before_flush", race)
    assert [r.created for r in results] == [False, True]
    assert results[0].image_id == raced[0]
    assert store.count() == 2 and store.orphan_files() == []
