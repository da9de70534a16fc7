"""Admins delete images: the rows, everything that hangs on them (extractions, the active-learning queue, proposals
and label failures; generation items keep their row with the image unset), one audit entry per image naming the
admin, then the files. On SQLite and PostgreSQL; other roles are refused and nothing changes; the CLI asks first."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import func, select

from core.active_learning import approval
from core.active_learning.tables import LabelFailure, Proposal, QueueEntry
from core.auth import OPERATOR, PermissionDenied, Role, User, acting_as
from core.cli import main as cli_main
from core.db import session_scope
from core.generation.tables import GenerationItemRow, GenerationJobRow
from core.imaging import encode_png
from core.schema import EXTRACTION_NO_FACE, EXTRACTION_OK, SOURCE_GENERATED
from core.settings import Settings, get_settings
from core.store import Store
from core.store.deletion import AUDIT_DELETE, delete_images
from core.store.repository import Filters
from core.store.tables import Extraction
from core.store.views import PROBLEM_STATES
from tests.postgres import scratch_database

ADMIN = User("ada@example.org", Role.ADMIN)
TRAINER = User("tom@example.org", Role.TRAINER)
VIEWER = User("vera@example.org", Role.VIEWER)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Store]:
    if request.param == "sqlite":
        yield Store(settings)
        return
    with scratch_database() as url:
        yield Store(settings.model_copy(update={"database_url": url}))


def _png(i: int) -> bytes:
    rng = np.random.default_rng(i)
    return encode_png(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))


def _populate(store: Store) -> list[int]:
    """Four images: two extracted (one with no face), all queued with a proposal and a label failure, and the first
    one made by a generation job."""
    with acting_as(OPERATOR):
        ids = [
            store.add_image(_png(0), original_name="happy_0.png", emotion="happy", source=SOURCE_GENERATED).image_id,
            store.add_image(_png(1), original_name="pool_1.png").image_id,
            store.add_image(_png(2), original_name="pool_2.png").image_id,
            store.add_image(_png(3), original_name="sad_3.png", emotion="sad").image_id,
        ]
    store.save_extractions([(ids[0], EXTRACTION_OK, "", 0, None)])
    store.save_extractions([(ids[1], EXTRACTION_NO_FACE, "no face found", 0, None)])
    with session_scope(store.engine) as session:
        for rank, image_id in enumerate(ids):
            session.add(
                QueueEntry(
                    image_id=image_id, rank=rank, score=0.5, strategy="entropy", predicted="happy", confidence=0.5
                )
            )
            session.add(Proposal(image_id=image_id, model="m", answer="happy", confidence=0.9))
            session.add(LabelFailure(image_id=image_id, model="m", reason="malformed JSON"))
        job = GenerationJobRow(name="j", fingerprint="f" * 64, template={}, model="m")
        session.add(job)
        session.flush()
        session.add(
            GenerationItemRow(
                job_id=job.id,
                key="k0",
                position=0,
                persona="p",
                emotion="happy",
                attributes={},
                prompt="a smiling face",
                file_name="happy_gen_0.png",
                image_id=ids[0],
            )
        )
    return ids


def _count(store: Store, table: type, image_ids: list[int]) -> int:
    with session_scope(store.engine) as session:
        return int(session.scalar(select(func.count()).select_from(table).where(table.image_id.in_(image_ids))) or 0)


def test_admin_deletes_rows_dependents_and_files_with_an_audit_entry_each(any_store: Store) -> None:
    store = any_store
    ids = _populate(store)
    gone, kept = ids[:2], ids[2:]
    records = {i: store.get(i) for i in ids}
    paths = {i: store.absolute_path(r) for i, r in records.items() if r is not None}
    assert all(p.is_file() for p in paths.values())

    with acting_as(ADMIN):
        report = store.delete_images([*gone, gone[0], 99_999])  # a repeated id counts once; an unknown one is named
    assert report.deleted == gone and report.missing == [99_999]
    assert report.files_removed == 2 and report.files_not_removed == []
    assert "2 image(s) deleted" in report.summary() and "1 id(s) not found" in report.summary()

    assert [store.get(i) for i in gone] == [None, None]
    assert not paths[gone[0]].exists() and not paths[gone[1]].exists()
    assert all(paths[i].is_file() and store.get(i) is not None for i in kept)  # the others are untouched
    for table in (Extraction, QueueEntry, Proposal, LabelFailure):
        assert _count(store, table, gone) == 0, table.__tablename__
        assert _count(store, table, kept) == (0 if table is Extraction else 2), table.__tablename__
    with session_scope(store.engine) as session:
        [item] = session.scalars(select(GenerationItemRow)).all()
    assert item.image_id is None and item.prompt == "a smiling face"  # the generation record stays, unlinked

    entries = {e.image_id: e for e in approval.audit_log(store)}
    assert set(entries) == set(gone)
    for image_id in gone:
        entry, record = entries[image_id], records[image_id]
        assert record is not None and entry.actor == ADMIN.id and entry.action == AUDIT_DELETE
        assert entry.old_value["path"] == record.path and entry.old_value["status"] == record.status
        assert entry.old_value["emotion"] == record.emotion
    assert entries[gone[0]].old_value["extraction"] == EXTRACTION_OK
    assert entries[gone[1]].old_value["extraction"] == EXTRACTION_NO_FACE
    # A deletion is not a review decision: undo leaves it alone.
    with acting_as(ADMIN):
        assert approval.undo_last(store) is None
    assert store.orphan_files() == []


@pytest.mark.parametrize("who", [VIEWER, TRAINER], ids=["viewer", "trainer"])
def test_only_admins_delete_images(any_store: Store, who: User) -> None:
    store = any_store
    ids = _populate(store)
    with acting_as(who), pytest.raises(PermissionDenied, match="delete needs the admin role"):
        store.delete_images(ids[:1])
    assert store.image_ids() == ids and approval.audit_log(store) == []
    assert _count(store, QueueEntry, ids) == 4


def test_chunks_and_a_file_that_cannot_be_removed(store: Store) -> None:
    """Chunked transactions give the same result; a file that cannot go is reported (rows are still deleted) and
    `orphan_files` finds what is left."""
    ids = _populate(store)
    stuck = store.get(ids[2])
    assert stuck is not None
    path = store.absolute_path(stuck)
    path.unlink()
    path.mkdir()  # a directory where the file was: unlink fails, even for root
    (path / "inside.bin").write_bytes(b"x")
    with acting_as(ADMIN):
        report = delete_images(store, reversed(ids), chunk_size=3)
    assert report.deleted == ids and store.count() == 0
    assert report.files_removed == 3 and [p for p, _ in report.files_not_removed] == [stuck.path]
    assert store.orphan_files() == [path / "inside.bin"]
    assert len(approval.audit_log(store)) == 4


def test_filters_select_what_to_delete(store: Store) -> None:
    ids = _populate(store)
    assert store.image_ids(Filters(extraction_states=PROBLEM_STATES)) == [ids[1]]
    assert store.image_ids(Filters(extraction_states=["pending"])) == ids[2:]
    assert store.image_ids(Filters(extraction_states=["pending", EXTRACTION_OK])) == [ids[0], *ids[2:]]
    assert store.image_ids(Filters(emotions=["sad"]), ids=[ids[0], ids[3]]) == [ids[3]]
    assert store.image_ids(ids=[ids[1], 12345]) == [ids[1]]


def test_cli_data_delete(
    app_env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(get_settings())
    ids = _populate(store)
    capsys.readouterr()
    assert cli_main(["data", "delete"]) == 2  # neither ids nor filters: refused, not "everything"
    assert "name the images" in capsys.readouterr().err

    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert cli_main(["data", "delete", "--problems"]) == 1
    assert "nothing deleted" in capsys.readouterr().out and store.count() == 4

    answers: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: answers.append(prompt) or "1")
    assert cli_main(["data", "delete", "--problems"]) == 0
    assert "Type 1 to confirm" in answers[0] and store.get(ids[1]) is None
    assert "1 image(s) deleted, 1 file(s) removed" in capsys.readouterr().out

    assert cli_main(["data", "delete", "--ids", str(ids[0]), str(ids[3]), "--label", "sad", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "1 of the given ids match no image" in out and "1 image(s) deleted" in out
    assert store.image_ids() == [ids[0], ids[2]]
    assert {e.actor for e in approval.audit_log(store)} == {OPERATOR.id}
