"""Approval actions on a real store: labels in the database only (the file stays put), audit log, undo, bulk
approve, and one transaction per decision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event

from core.active_learning import approval
from core.active_learning.approval import Conflict
from core.active_learning.review_queue import build_queue, queue_items
from core.active_learning.tables import Proposal
from core.db import session_scope
from core.store import Store
from core.store.repository import Filters
from tests.active_learning.helpers import as_reviewer, fill_pool, tiny_model

ALICE, BOB = "alice", "bob"


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


def _files(store: Store) -> dict[str, bytes]:
    """Every file under the store's image folder, by path relative to the data root."""
    root = store.data_root / "images"
    return {p.relative_to(store.data_root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_approve_leaves_the_file_where_it_was_and_logs_who_when_old_and_new(store: Store, queued: list[int]) -> None:
    image_id = queued[0]
    _propose(store, image_id, "surprise", 0.9)
    before = store.get(image_id)
    assert before is not None
    files_before = _files(store)
    assert before.path == f"images/{before.sha256[:2]}/{Path(before.path).name}"  # content-addressed

    decision = as_reviewer(ALICE, approval.approve, store, image_id)
    after = store.get(image_id)
    assert after is not None
    assert (after.status, after.emotion, after.label_source) == ("train", "surprise", "llm")
    assert after.path == before.path and after.version == before.version + 1
    assert _files(store) == files_before  # no file moved, copied or removed
    assert not (store.data_root / "images" / "train").exists()
    with pytest.raises(ValueError, match="'path' cannot be changed"):  # nobody moves a file the store placed
        store.update(image_id, path=f"images/train/surprise/{Path(before.path).name}")

    [entry] = approval.audit_log(store, image_id=image_id)
    assert entry.id == decision.audit_id and entry.actor == ALICE and entry.action == "approve"
    assert entry.at is not None
    assert entry.old_value["status"] == "queued" and entry.old_value["emotion"] is None
    assert entry.new_value["status"] == "train" and entry.new_value["emotion"] == "surprise"
    assert "path" not in entry.new_value  # a label is a database fact; the file has no say in it
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
    files = _files(store)
    as_reviewer(ALICE, approval.undo_last, store)
    rec_a = store.get(a)
    assert rec_a is not None and (rec_a.status, rec_a.emotion, rec_a.label_source) == ("queued", None, None)
    assert _file(store, a).is_file() and _files(store) == files
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


def test_a_decision_whose_commit_fails_leaves_neither_label_nor_audit_entry(store: Store, queued: list[int]) -> None:
    """Status, label and audit entry are one transaction: a failed commit keeps none of them, and the same decision
    succeeds afterwards."""
    image_id = queued[0]
    before = store.get(image_id)
    assert before is not None

    def fail_commit(_session: object) -> None:
        raise RuntimeError("injected commit failure")

    event.listen(store.engine, "commit", fail_commit)
    try:
        with pytest.raises(RuntimeError, match="injected commit failure"):
            as_reviewer(ALICE, approval.correct, store, image_id, "sad")
    finally:
        event.remove(store.engine, "commit", fail_commit)
    after = store.get(image_id)
    assert after is not None
    assert (after.status, after.emotion, after.version) == ("queued", None, before.version)
    assert approval.audit_log(store, image_id=image_id) == []
    decision = as_reviewer(ALICE, approval.correct, store, image_id, "sad")
    [entry] = approval.audit_log(store, image_id=image_id)
    assert entry.id == decision.audit_id and entry.new_value["emotion"] == "sad"
