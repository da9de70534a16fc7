"""The queue on a real SQLite store with real MediaPipe landmarks of real face photos."""

from __future__ import annotations

import numpy as np
import pytest

from core.active_learning.review_queue import build_queue, queue_items
from core.settings import Settings
from core.store import Store
from core.store.repository import Filters
from tests.active_learning.helpers import fill_pool, tiny_model


def test_queue_is_top_k_diverse_and_never_holds_a_faceless_image(store: Store, face_variants: list[np.ndarray]) -> None:
    ids = fill_pool(store, face_variants, n=6)
    model = tiny_model(store)
    versions = {r.id: r.version for r in store.list_images()}

    report = build_queue(store, model, model_id="test-model", strategy="entropy", k=20, min_distance=0.002)
    assert report.pool == 8 and report.scored == 7 and report.no_face == 1 and report.not_extracted == 0
    queued = {r.id for r in store.list_images(Filters(statuses=["queued"]))}
    assert ids["no_face"][0] not in queued
    assert report.queued == len(queued) == 7 - len(report.near_duplicates)

    items = queue_items(store)
    assert [it.rank for it in items] == sorted(it.rank for it in items)
    scores = [it.score for it in items]
    assert scores == sorted(scores, reverse=True)  # most uncertain first
    for it in items:
        assert it.version == versions[it.image_id] + 1
        assert set(it.probabilities) == {"happy", "neutral", "sad"}
        assert abs(sum(it.probabilities.values()) - 1) < 1e-6
        assert it.predicted == max(it.probabilities, key=it.probabilities.__getitem__)


def test_near_duplicate_copy_is_skipped_and_k_is_respected(store: Store, face_variants: list[np.ndarray]) -> None:
    ids = fill_pool(store, face_variants, n=4)
    model = tiny_model(store)
    report = build_queue(store, model, strategy="margin", k=20, min_distance=0.02)
    pairs = {frozenset(p) for p in report.near_duplicates}
    # The resized copy of face 0 and face 0 are never both queued.
    assert frozenset((ids["copy"][0], ids["faces"][0])) in pairs
    queued = {it.image_id for it in queue_items(store)}
    assert not {ids["copy"][0], ids["faces"][0]} <= queued

    # Rescoring puts undecided queued images back into the pool first, so k bounds the queue.
    again = build_queue(store, model, strategy="least_confidence", k=2, min_distance=0.02)
    assert again.returned == len(queued)
    assert again.queued == 2 and len(queue_items(store)) == 2
    assert store.count(Filters(statuses=["pool"])) == 6 - 2


@pytest.mark.slow
def test_scoring_on_ray_queues_the_same_faces_with_the_same_scores(
    store: Store, ray_settings: Settings, face_variants: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """EXECUTOR=ray: the pool's rows are scored in blocks over Ray tasks; the queue is the local one."""
    from core.executors import fanout

    fill_pool(store, face_variants, n=6)
    model = tiny_model(store)
    build_queue(store, model, strategy="entropy", k=20, min_distance=0.002)
    local = {it.image_id: (it.rank, it.score) for it in queue_items(store)}
    monkeypatch.setattr(fanout, "SCORE_BLOCK_ROWS", 2)  # 7 faces: 4 blocks
    build_queue(Store(ray_settings), model, strategy="entropy", k=20, min_distance=0.002)
    spread = {it.image_id: (it.rank, it.score) for it in queue_items(store)}
    assert spread.keys() == local.keys() and len(local) >= 2
    for image_id, (rank, score) in local.items():  # float32 rows: BLAS may round blocks of rows differently
        assert spread[image_id][0] == rank and spread[image_id][1] == pytest.approx(score, rel=1e-5)
