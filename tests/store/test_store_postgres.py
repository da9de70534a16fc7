"""The same store code on a real PostgreSQL server (DATABASE_URL pointing at PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.records import FaceData
from core.settings import Settings
from core.store import Store
from tests.postgres import scratch_database


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[Store]:
    with scratch_database() as url:
        settings = Settings(_env_file=None, data_root=tmp_path / "data", database_url=url)  # type: ignore[call-arg]
        yield Store(settings)


@pytest.mark.postgres
def test_round_trip_and_duplicates_on_postgres(pg_store: Store, astronaut_png: bytes) -> None:
    first = pg_store.add_image(
        astronaut_png,
        original_name="happy_1.png",
        emotion="happy",
        label_source="filename",
        attributes={"yolo": {"box": [0.1, 0.2, 0.3, 0.4]}},
        tags=["a"],
    )
    again = pg_store.add_image(astronaut_png)
    assert first.created and not again.created and pg_store.count() == 1
    face = FaceData(
        np.ones((478, 3), np.float32), np.zeros(52, np.float32), np.eye(4, dtype=np.float32), (0.1, 0.1, 0.5, 0.5)
    )
    pg_store.save_extractions([(first.image_id, "ok", "", 1, face)])
    [(record, got)] = pg_store.faces()
    assert record.attributes["yolo"]["box"] == [0.1, 0.2, 0.3, 0.4]
    np.testing.assert_array_equal(got.landmarks, face.landmarks)
    pg_store.update(first.image_id, status="test")
    assert pg_store.counts_by("status") == {"test": 1}
    assert pg_store.get(first.image_id).version == 2
