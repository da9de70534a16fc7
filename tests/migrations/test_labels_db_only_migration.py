"""Migration 0009_labels_db_only on real SQLite and PostgreSQL databases: a store made in the old layout (approved
images moved to images/train/<emotion>/) gets its files back at content-addressed paths and its rows updated, and a
run that dies half-way is finished by the next one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from core.db import dispose_engine, get_engine
from core.imaging import encode_png
from core.migrations import current_revision, head_revision, upgrade
from core.settings import Settings
from core.store import Store
from tests.postgres import scratch_database

BEFORE = "0008_pool_drop_generation_leases"
LABELS = ("happy", "sad", "happy")  # the old code moved each approved image to images/train/<its label>/


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def settings_of(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'studio.db'}"
        yield Settings(_env_file=None, data_root=tmp_path / "data", database_url=url)  # type: ignore[call-arg]
        dispose_engine(url)
    else:
        with scratch_database() as url:
            yield Settings(_env_file=None, data_root=tmp_path / "data", database_url=url)  # type: ignore[call-arg]


def _old_layout_store(settings: Settings) -> dict[int, tuple[str, bytes]]:
    """Images stored by today's code, then put where the old approval left them (file moved, row rewritten) and the
    database set back to the revision before; {id: (content-addressed path, bytes)} of every image."""
    store = Store(settings)
    rng = np.random.default_rng(7)
    expected = {}
    for i in range(len(LABELS) + 1):  # the last one stays in the pool, where it always was
        data = encode_png(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8))
        labeled = i < len(LABELS)
        added = store.add_image(data, emotion=LABELS[i] if labeled else None, label_source="human" if labeled else None)
        record = store.get(added.image_id)
        assert record is not None
        expected[added.image_id] = (record.path, data)
    with store.engine.begin() as conn:
        for image_id, label in zip(sorted(expected)[: len(LABELS)], LABELS, strict=True):
            home = expected[image_id][0]
            old = f"images/train/{label}/{Path(home).name}"
            (settings.data_root / old).parent.mkdir(parents=True, exist_ok=True)
            os.replace(settings.data_root / home, settings.data_root / old)
            conn.execute(text("UPDATE images SET path = :p WHERE id = :i"), {"p": old, "i": image_id})
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": BEFORE})
    dispose_engine(settings.resolved_database_url)
    return expected


def _assert_content_addressed(settings: Settings, expected: dict[int, tuple[str, bytes]]) -> None:
    store = Store(settings)
    assert current_revision(store.engine) == head_revision()
    for image_id, (home, data) in expected.items():
        record = store.get(image_id)
        assert record is not None and record.path == home
        assert store.read_bytes(record) == data
    assert not (settings.data_root / "images" / "train").exists()  # emptied and removed
    assert store.orphan_files() == []


def test_an_old_layout_store_gets_its_files_back_at_content_addressed_paths(settings_of: Settings) -> None:
    expected = _old_layout_store(settings_of)
    _assert_content_addressed(settings_of, expected)  # opening the store runs the migration


def test_a_migration_killed_half_way_is_finished_by_the_next_run(
    settings_of: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _old_layout_store(settings_of)
    real_replace, moves = os.replace, []

    def dies_at_the_second_move(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        moves.append(src)
        if len(moves) == 2:
            raise OSError("injected: the process died here")
        real_replace(src, dst)

    engine = get_engine(settings_of.resolved_database_url)
    monkeypatch.setattr(os, "replace", dies_at_the_second_move)
    with pytest.raises(OSError, match="injected"):
        upgrade(engine, data_root=settings_of.data_root)
    monkeypatch.setattr(os, "replace", real_replace)
    # The first file moved, but its row was rolled back with the rest: the database is still at the old revision.
    assert current_revision(engine) == BEFORE
    with engine.connect() as conn:
        paths = [str(p) for (p,) in conn.execute(text("SELECT path FROM images ORDER BY id"))]
    assert sum(p.startswith("images/train/") for p in paths) == len(LABELS)
    moved_home = [home for home, _ in expected.values() if (settings_of.data_root / home).is_file()]
    assert len(moved_home) == 2  # the pool image that never moved, and the first one the killed run moved
    dispose_engine(settings_of.resolved_database_url)

    _assert_content_addressed(settings_of, expected)  # the next start finishes the job


def test_a_row_whose_file_is_nowhere_keeps_its_path(settings_of: Settings) -> None:
    expected = _old_layout_store(settings_of)
    lost_id = sorted(expected)[0]
    lost = next((settings_of.data_root / "images" / "train").rglob(Path(expected[lost_id][0]).name))
    lost.unlink()  # deleted by hand before the upgrade

    store = Store(settings_of)
    assert current_revision(store.engine) == head_revision()
    record = store.get(lost_id)
    assert record is not None and record.path == lost.relative_to(settings_of.data_root).as_posix()
    for image_id, (home, data) in expected.items():
        if image_id != lost_id:
            moved = store.get(image_id)
            assert moved is not None and moved.path == home and store.read_bytes(moved) == data
