"""Alembic migrations on real SQLite and PostgreSQL databases: a new database, a database made before migrations
existed (adopted in place, rows kept), and several processes starting on one new database at once."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from core.db import dispose_engine, get_engine
from core.migrations import current_revision, head_revision, open_database, upgrade
from core.migrations.metadata import metadata
from core.settings import Settings
from core.store import Store
from tests.postgres import scratch_database

# The tables the code made before migrations whenever a store was opened; active-learning tables came on first use.
BASELINE = "0001"  # the schema as the code made it before migrations
LEGACY_TABLES = ("images", "extractions", "generation_jobs", "generation_items", "generation_leases")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'studio.db'}"
        yield url
        dispose_engine(url)
    else:
        with scratch_database() as url:
            yield url


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings(_env_file=None, data_root=tmp_path / "data", database_url=url)  # type: ignore[call-arg]


def _schema_differences(url: str) -> list[object]:
    with get_engine(url).connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))


def test_a_new_database_is_migrated_to_head_with_every_table(database: str, tmp_path: Path) -> None:
    store = Store(_settings(tmp_path, database))
    assert current_revision(store.engine) == head_revision()
    tables = set(inspect(store.engine).get_table_names())
    assert set(metadata.tables) <= tables and "alembic_version" in tables
    assert _schema_differences(database) == []


def test_a_database_made_before_migrations_is_adopted_in_place(
    database: str, tmp_path: Path, astronaut_png: bytes
) -> None:
    # What the code before migrations left behind: its tables (no al_* yet), rows, and no alembic_version.
    # The baseline is that schema; its bookkeeping and the tables that came on first use are then removed.
    engine = get_engine(database)
    upgrade(engine, BASELINE)
    with engine.begin() as conn:
        for name in set(inspect(conn).get_table_names()) - set(LEGACY_TABLES):
            conn.execute(text(f"DROP TABLE {name}"))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO images (sha256, path, original_name, width, height, source, emotion, label_source, "
                "status, tags, attributes, version, created_at, updated_at) VALUES ('ab' || :pad, "
                "'images/ab/x.png', 'happy_1.png', 4, 4, 'imported', 'happy', 'filename', 'train', '[]', '{}', 3, "
                ":now, :now)"
            ),
            {"pad": "0" * 62, "now": "2026-01-01 00:00:00+00:00"},
        )
    assert current_revision(engine) is None
    dispose_engine(database)

    store = Store(_settings(tmp_path, database))
    assert current_revision(store.engine) == head_revision()
    [old] = store.list_images()
    assert (old.original_name, old.emotion, old.status, old.version) == ("happy_1.png", "happy", "train", 3)
    assert {"al_queue", "al_audit", "al_proposals"} <= set(inspect(store.engine).get_table_names())
    assert _schema_differences(database) == []
    # The adopted database works like a new one.
    added = store.add_image(astronaut_png, original_name="sad_2.png", emotion="sad", label_source="filename")
    assert added.created and store.count() == 2


def _open_and_count(url: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue) -> None:
    barrier.wait()  # every process reaches the new database at the same moment
    try:
        engine = open_database(url)
        with engine.connect() as conn:
            out.put(int(conn.execute(text("SELECT count(*) FROM images")).scalar_one()))
    except Exception as exc:  # reported to the test, which fails with the reason
        out.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_processes_starting_at_once_on_a_new_database_all_get_it_migrated(database: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_open_and_count, args=(database, barrier, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert results == [0, 0, 0, 0]
    assert current_revision(get_engine(database)) == head_revision()


def test_api_keys_get_their_users_id_and_orphans_are_dropped(database: str) -> None:
    """0007_team: each user gets an id, each key its owner's id behind a foreign key ON DELETE CASCADE; a key whose
    user was already gone (dead already) is dropped rather than given to whoever is added under that address."""
    engine = get_engine(database)
    upgrade(engine, "0005")
    now = "2026-01-01 00:00:00+00:00"
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO users (email, role, created_at) VALUES ('ann@example.org', 'viewer', :now)"), {"now": now}
        )
        for key_id, owner in (("aaaaaaaaaaaa", "ann@example.org"), ("bbbbbbbbbbbb", "gone@example.org")):
            conn.execute(
                text(
                    "INSERT INTO api_keys (key_id, user_email, name, key_hash, created_at) "
                    "VALUES (:key_id, :owner, '', :hash, :now)"
                ),
                {"key_id": key_id, "owner": owner, "hash": "0" * 64, "now": now},
            )
    upgrade(engine, "head")
    assert _schema_differences(database) == []
    with engine.begin() as conn:
        [(user_id,)] = conn.execute(text("SELECT id FROM users")).all()
        rows = conn.execute(text("SELECT key_id, user_id FROM api_keys")).all()
        assert [tuple(r) for r in rows] == [("aaaaaaaaaaaa", user_id)] and len(user_id) == 32
        conn.execute(text("DELETE FROM users"))
        assert conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 0
