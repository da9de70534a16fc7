"""Two reviewers approving the same queue at once, on SQLite and on a real PostgreSQL server: every image ends in
exactly one state, its file stays where the store put it, and the audit log has exactly one decision per image."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core.active_learning import approval
from core.active_learning.approval import Conflict
from core.active_learning.review_queue import build_queue, queue_items
from core.settings import Settings
from core.store import Store
from core.store.repository import Filters
from tests.active_learning.helpers import as_reviewer, fill_pool, tiny_model

REVIEWERS = {"alice": "happy", "bob": "sad"}  # each reviewer picks a different label, so a double write shows


def _race(store: Store) -> dict[str, list[int]]:
    items = queue_items(store)
    assert len(items) % 2 == 1 and len(items) >= 5
    # The reviewers move in step (a barrier before each decision), from opposite ends of an odd-length queue: each
    # decides its half, both hit the middle image at the same moment (one wins, the other gets a Conflict), and
    # each then meets the other's decisions. In step, because one decision is one quick transaction: free-running,
    # one thread could decide the whole queue before the other starts on a busy machine.
    barrier = threading.Barrier(len(REVIEWERS), timeout=60)
    won: dict[str, list[int]] = {name: [] for name in REVIEWERS}
    errors: list[BaseException] = []

    def review(name: str, label: str, order: list[int]) -> None:
        try:
            for i in order:
                barrier.wait()
                item = items[i]
                try:
                    as_reviewer(name, approval.correct, store, item.image_id, label, expected_version=item.version)
                except Conflict:
                    continue
                won[name].append(item.image_id)
        except BaseException as exc:  # surfaced below: a thread must not fail silently
            errors.append(exc)

    forward = list(range(len(items)))
    threads = [
        threading.Thread(target=review, args=("alice", REVIEWERS["alice"], forward)),
        threading.Thread(target=review, args=("bob", REVIEWERS["bob"], forward[::-1])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return won


def _check(store: Store, n_items: int, won: dict[str, list[int]], originals: dict[int, Path]) -> None:
    all_won = won["alice"] + won["bob"]
    assert len(won["alice"]) >= n_items // 2 and len(won["bob"]) >= n_items // 2  # each its half; one the middle
    assert len(all_won) == len(set(all_won)) == n_items  # nobody lost, nobody decided twice
    log = approval.audit_log(store)
    assert len(log) == n_items
    assert Counter(e.image_id for e in log) == Counter(all_won)
    for entry in log:
        record = store.get(entry.image_id)
        assert record is not None and record.status == "train"
        assert record.emotion == REVIEWERS[entry.actor] == entry.new_value["emotion"]
        assert entry.image_id in won[entry.actor]
        assert record.version == entry.new_value["version"] == entry.old_value["version"] + 1
        assert store.absolute_path(record) == originals[entry.image_id] and originals[entry.image_id].is_file()
    assert not (store.data_root / "images" / "train").exists()  # labels never move files
    assert store.count(Filters(statuses=["train"])) == n_items
    assert store.count(Filters(statuses=["queued"])) == 0


def _prepare(store: Store, variants: list[np.ndarray]) -> tuple[int, dict[int, Path]]:
    fill_pool(store, variants, n=8)
    build_queue(store, tiny_model(store), strategy="margin", k=7, min_distance=0.0)  # odd: a middle image
    items = queue_items(store)
    originals = {}
    for it in items:
        record = store.get(it.image_id)
        assert record is not None
        originals[it.image_id] = store.absolute_path(record)
    return len(items), originals


def test_two_reviewers_at_once_on_sqlite(store: Store, face_variants: list[np.ndarray]) -> None:
    n, originals = _prepare(store, face_variants)
    won = _race(store)
    _check(store, n, won, originals)


@pytest.mark.postgres
def test_two_reviewers_at_once_on_postgresql(pg_settings: Settings, face_variants: list[np.ndarray]) -> None:
    store = Store(pg_settings)
    assert store.engine.dialect.name == "postgresql"
    n, originals = _prepare(store, face_variants)
    won = _race(store)
    _check(store, n, won, originals)
    # Undo works there too, and a second undo of the same image is refused by the lock, not applied twice.
    last = approval.last_action(store, "alice") or approval.last_action(store, "bob")
    assert last is not None
    as_reviewer(last.actor, approval.undo_last, store)
    record = store.get(last.image_id)
    assert record is not None and record.status == "queued" and originals[last.image_id].is_file()
