"""Approval actions on a real store: file moves, audit log, undo, bulk approve, atomicity under injected failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event

from core.active import approval
from core.active.approval import Conflict
from core.active.queue import build_queue, queue_items
from core.active.tables import Proposal
from core.cli import main
from core.db import session_scope
from core.settings import Settings
from core.store import Store
from core.store.repository import Filters
from core.store.tables import ImageRecord
from tests.active.helpers import as_reviewer, fill_pool, tiny_model

ALICE, BOB = "alice", "bob"
ROOT = Path(__file__).resolve().parents[2]
# A reviewer's process killed right after the file move, before the commit: no rollback handler, no compensation.
KILLED_AFTER_MOVE = """
import os, sys
from pathlib import Path
from core.active import approval
from core.settings import Settings
from core.store import Store

store = Store(Settings(_env_file=None, data_root=Path(sys.argv[1]), database_url=None))

def die(step):
    if step == "file_moved":
        os._exit(9)

from core.auth import Role, User, acting_as

with acting_as(User("alice", Role.LABELER)):
    approval.correct(store, int(sys.argv[2]), sys.argv[3], on_step=die)
"""


@pytest.fixture
def queued(store: Store, face_variants: list[np.ndarray]) -> list[int]:
    fill_pool(store, face_variants, n=5)
    build_queue(store, tiny_model(store), strategy="entropy", k=5, min_distance=0.0)
    return [it.image_id for it in queue_items(store)]


def _propose(store: Store, image_id: int, answer: str, confidence: float) -> None:
    with session_scope(store.engine) as session:
        session.add(Proposal(image_id=image_id, model="fake", answer=answer, confidence=confidence, rationale="r"))


def _file(store: Store, image_id: int) -> Path:
    record = store.get(image_id)
    assert record is not None
    return store.absolute_path(record)


def test_approve_moves_the_file_and_logs_who_when_old_and_new(store: Store, queued: list[int]) -> None:
    image_id = queued[0]
    _propose(store, image_id, "surprise", 0.9)
    before = store.get(image_id)
    assert before is not None
    old_file = store.absolute_path(before)

    decision = as_reviewer(ALICE, approval.approve, store, image_id)
    after = store.get(image_id)
    assert after is not None
    assert (after.status, after.emotion, after.label_source) == ("train", "surprise", "llm")
    assert after.path == f"images/train/surprise/{old_file.name}"
    assert after.version == before.version + 1
    assert not old_file.exists() and store.absolute_path(after).read_bytes()[:4] == b"\x89PNG"

    [entry] = approval.audit_log(store, image_id=image_id)
    assert entry.id == decision.audit_id and entry.actor == ALICE and entry.action == "approve"
    assert entry.at is not None
    assert entry.old_value["status"] == "queued" and entry.old_value["emotion"] is None
    assert entry.new_value["status"] == "train" and entry.new_value["emotion"] == "surprise"
    assert image_id not in {it.image_id for it in queue_items(store)}
    # Approved images count as training data (and only once).
    assert store.count(Filters(statuses=["train"], labeled_only=True)) == 1


def test_correct_reject_skip_and_undo(store: Store, queued: list[int]) -> None:
    a, b, c = queued[:3]
    as_reviewer(ALICE, approval.correct, store, a, "contempt")
    as_reviewer(ALICE, approval.reject, store, b)
    as_reviewer(ALICE, approval.skip, store, c)
    assert queue_items(store)[-1].image_id == c  # a skipped card goes to the end
    rec_a, rec_b = store.get(a), store.get(b)
    assert rec_a is not None and rec_b is not None
    assert (rec_a.emotion, rec_a.label_source, rec_a.status) == ("contempt", "human", "train")
    assert rec_b.status == "rejected" and rec_b.emotion is None

    # Undo walks back through alice's actions, newest first; bob has nothing to undo.
    assert as_reviewer(BOB, approval.undo_last, store) is None
    as_reviewer(ALICE, approval.undo_last, store)
    assert not next(it for it in queue_items(store) if it.image_id == c).skipped
    as_reviewer(ALICE, approval.undo_last, store)
    rec_b = store.get(b)
    assert rec_b is not None and rec_b.status == "queued"
    moved = _file(store, a)
    as_reviewer(ALICE, approval.undo_last, store)
    rec_a = store.get(a)
    assert rec_a is not None and (rec_a.status, rec_a.emotion, rec_a.label_source) == ("queued", None, None)
    assert _file(store, a).is_file() and not moved.exists() and "train" not in rec_a.path
    assert as_reviewer(ALICE, approval.undo_last, store) is None
    actions = [e.action for e in approval.audit_log(store)]
    assert actions == ["undo", "undo", "undo", "skip", "reject", "correct"]

    with pytest.raises(ValueError, match="unknown emotion"):
        as_reviewer(ALICE, approval.correct, store, a, "bored")


def test_undo_refuses_when_someone_changed_the_image_since(store: Store, queued: list[int]) -> None:
    as_reviewer(ALICE, approval.correct, store, queued[0], "sad")
    store.update(queued[0], emotion="angry")  # bob fixed the label on the Data page meanwhile
    with pytest.raises(Conflict):
        as_reviewer(ALICE, approval.undo_last, store)


def test_stale_card_is_a_conflict(store: Store, queued: list[int]) -> None:
    item = queue_items(store)[0]
    as_reviewer(BOB, approval.reject, store, item.image_id, expected_version=item.version)
    with pytest.raises(Conflict):
        as_reviewer(ALICE, approval.correct, store, item.image_id, "happy", expected_version=item.version)
    assert len(approval.audit_log(store, image_id=item.image_id)) == 1


def test_bulk_approve_takes_only_confident_agreement(store: Store, queued: list[int]) -> None:
    items = queue_items(store)
    agree, low, disagree, no_face = items[0], items[1], items[2], items[3]
    assert agree.predicted and low.predicted and disagree.predicted
    _propose(store, agree.image_id, agree.predicted, 0.95)
    _propose(store, low.image_id, low.predicted, 0.2)
    other = next(e for e in ("angry", "fear") if e != disagree.predicted)
    _propose(store, disagree.image_id, other, 0.99)
    _propose(store, no_face.image_id, "not_a_face", 0.99)
    threshold = min(agree.confidence, 0.3)
    report = as_reviewer(ALICE, approval.bulk_approve, store, min_confidence=threshold)
    assert report.approved == [agree.image_id] and not report.conflicts and not report.failed
    again = as_reviewer(ALICE, approval.bulk_approve, store, min_confidence=threshold)
    assert again.approved == []


@pytest.mark.parametrize("fail_at", ["status_changed", "audited", "file_moved"])
def test_approve_and_move_is_atomic_under_a_failure_between_steps(
    store: Store, queued: list[int], fail_at: str
) -> None:
    image_id = queued[0]
    before = store.get(image_id)
    assert before is not None
    original = store.absolute_path(before)
    data = original.read_bytes()

    def hook(step: str) -> None:
        if step == fail_at:
            raise OSError(f"injected failure after {step}")

    with pytest.raises(OSError, match="injected"):
        as_reviewer(ALICE, approval.correct, store, image_id, "happy", on_step=hook)
    after = store.get(image_id)
    assert after is not None
    assert (after.status, after.emotion, after.path, after.version) == ("queued", None, before.path, before.version)
    assert original.read_bytes() == data
    assert not (store.data_root / "images" / "train").exists() or not any(
        p.is_file() for p in (store.data_root / "images" / "train").rglob("*")
    )
    assert approval.audit_log(store, image_id=image_id) == []
    # Nothing is lost: the same decision succeeds afterwards.
    as_reviewer(ALICE, approval.correct, store, image_id, "happy")
    assert _file(store, image_id).read_bytes() == data


def test_a_failed_commit_moves_the_file_back(store: Store, queued: list[int]) -> None:
    image_id = queued[0]
    before = store.get(image_id)
    assert before is not None
    original = store.absolute_path(before)

    def fail_commit(_session: object) -> None:
        raise RuntimeError("injected commit failure")

    event.listen(store.engine, "commit", fail_commit)
    try:
        with pytest.raises(RuntimeError, match="injected commit failure"):
            as_reviewer(ALICE, approval.correct, store, image_id, "sad")
    finally:
        event.remove(store.engine, "commit", fail_commit)
    after = store.get(image_id)
    assert after is not None and after.status == "queued" and after.path == before.path
    assert original.is_file()
    assert not any(p.is_file() for p in (store.data_root / "images" / "train").rglob("*"))


def _kill_after_move(store: Store, image_id: int, label: str) -> tuple[ImageRecord, bytes]:
    """Run a correction in another process that dies between the file move and the commit; the record and file
    bytes as they were before."""
    before = store.get(image_id)
    assert before is not None
    data = store.absolute_path(before).read_bytes()
    done = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_MOVE, str(store.data_root), str(image_id), label],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 9, done.stderr[-2000:]
    record = store.get(image_id)
    assert record is not None and record.status == "queued"  # the row never committed ...
    assert not store.absolute_path(record).exists()  # ... but the file moved
    assert (store.data_root / "images" / "train" / label / Path(record.path).name).read_bytes() == data
    return before, data


def _training_files(store: Store) -> list[Path]:
    return [p for p in (store.data_root / "images" / "train").rglob("*") if p.is_file()]


@pytest.mark.parametrize(("retry", "label"), [("approve", "happy"), ("correct", "happy"), ("correct", "sad")])
def test_a_decision_killed_after_the_file_move_is_finished_by_the_next_attempt(
    store: Store, queued: list[int], retry: str, label: str
) -> None:
    image_id = queued[0]
    before, data = _kill_after_move(store, image_id, "happy")

    if retry == "approve":
        _propose(store, image_id, label, 0.9)
        as_reviewer(BOB, approval.approve, store, image_id)
    else:
        as_reviewer(BOB, approval.correct, store, image_id, label)
    after = store.get(image_id)
    assert after is not None
    assert (after.status, after.emotion, after.version) == ("train", label, before.version + 1)
    assert after.path == f"images/train/{label}/{Path(before.path).name}"
    assert _training_files(store) == [store.absolute_path(after)]  # one copy, where the row says
    assert store.absolute_path(after).read_bytes() == data
    [entry] = approval.audit_log(store, image_id=image_id)  # the killed attempt left no audit entry
    assert entry.actor == BOB
    # Undo still works on the recovered decision.
    as_reviewer(BOB, approval.undo_last, store)
    assert _file(store, image_id).read_bytes() == data and _training_files(store) == []


def test_repair_puts_files_left_by_a_killed_decision_back_where_their_rows_say(
    store: Store, queued: list[int], app_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    image_id = queued[0]
    before, data = _kill_after_move(store, image_id, "sad")

    assert main(["al", "repair"]) == 0  # `python -m core al repair`, on the same data root
    assert f"repaired 1 image files: #{image_id}" in capsys.readouterr().out
    assert store.absolute_path(before).read_bytes() == data and _training_files(store) == []
    assert approval.repair_files(store) == []  # nothing left to repair
    [item] = queue_items(store, image_ids=[image_id])  # the review card finds its image again
    assert (store.data_root / item.path).is_file()
