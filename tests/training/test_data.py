"""Training data assembled from a real SQLite store: filters, person groups, held-out rows, snapshot hash."""

from __future__ import annotations

from core.features import RAW_WIDTH
from core.records import FaceData
from core.store import Store
from core.store.repository import Filters
from core.training.data import from_store
from tests.training.conftest import fill_store


def test_from_store_groups_holds_out_and_hashes(store: Store, variant_faces: list[tuple[bytes, FaceData, str]]) -> None:
    ids = fill_store(store, variant_faces)
    data = from_store(store)
    assert data.x.shape == (len(ids), RAW_WIDTH) and data.groups is None and not data.held_out.any()
    assert data.classes == ["happy", "surprise"] and data.sources == ["imported"]

    store.update(ids[0], person="ann")
    store.update(ids[1], person="ann", status="test")
    store.update(ids[2], status="pool")  # pool images are never trained on
    data2 = from_store(store)
    assert len(data2) == len(ids) - 1
    assert list(data2.groups[:2]) == ["ann", "ann"] and data2.groups[2].startswith("image-")
    assert data2.held_out.tolist().count(True) == 1
    assert data2.data_hash != data.data_hash

    store.update(ids[3], emotion="sad")
    assert from_store(store).data_hash != data2.data_hash  # a relabel changes the snapshot
    only = from_store(store, Filters(emotions=["surprise"]))
    assert set(only.y.tolist()) == {"surprise"}
