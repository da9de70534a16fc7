"""The review queue: the pool scored by the active model, top K by uncertainty with near-duplicates skipped.

Scoring goes through `core.inference.Recognizer`, like every other prediction, so any model kind scores the pool:
landmark models from the stored faces alone, ResNets and detectors from the decoded images.

Only pool images whose extraction found a face are scored, so an image without a face never enters the queue.
Queued images get status "queued" (their version bumps, as with every state change) and a `QueueEntry` that records
the score and the model's probabilities for the approval card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import delete, select

from core.active_learning.diversity import DEFAULT_MIN_DISTANCE, aligned_shapes, select_diverse
from core.active_learning.tables import LabelFailure, Proposal, QueueEntry
from core.active_learning.uncertainty import uncertainty
from core.auth import Permission, require
from core.db import session_scope
from core.executors.executor import executor_for
from core.features import faces_to_matrix
from core.imaging import decode_rgb
from core.inference import ExpressionModel, Recognizer
from core.records import FaceData
from core.schema import EMOTIONS, STATUS_POOL, STATUS_QUEUED
from core.store import Store
from core.store.repository import Filters
from core.store.tables import ImageRecord


@dataclass
class QueueReport:
    pool: int = 0  # pool images considered
    scored: int = 0  # of those, with a face
    queued: int = 0
    near_duplicates: list[tuple[int, int]] = field(default_factory=list)  # (image id, near-duplicate of image id)
    returned: int = 0  # formerly queued images put back into the pool before rescoring
    no_face: int = 0
    not_extracted: int = 0
    unscored: int = 0  # faces the model could not score (image unreadable, or a detector found no face)

    def summary(self) -> str:
        extra = f"; {self.unscored} could not be scored (unreadable image or no face found by the model)"
        return (
            f"{self.queued} queued from {self.scored} scored pool faces; {len(self.near_duplicates)} near-duplicates "
            f"skipped; {self.no_face} without a face and {self.not_extracted} not yet extracted were left out"
            + (extra if self.unscored else "")
        )


@dataclass(frozen=True)
class ProposalView:
    answer: str
    confidence: float
    rationale: str
    model: str

    @property
    def emotion(self) -> str | None:
        """The proposed emotion, or None for "not_a_face" / "unclear"."""
        return self.answer if self.answer in EMOTIONS else None


@dataclass(frozen=True)
class QueueItem:
    """Everything one approval card shows."""

    image_id: int
    version: int
    path: str
    original_name: str
    rank: int
    score: float
    strategy: str
    predicted: str | None
    confidence: float
    probabilities: dict[str, float]
    skipped: bool
    proposal: ProposalView | None
    failure: str | None  # the latest labeling failure when there is no proposal


def _return_to_pool(store: Store) -> int:
    """Put queued images back into the pool (their queue entries go too) so that a new scoring starts afresh."""
    with store.transaction() as session:
        returned = store.transition_many(None, from_status=STATUS_QUEUED, to_status=STATUS_POOL, session=session)
        # Entries of decided images stay: undo may bring them back into the queue.
        undecided = select(ImageRecord.id).where(ImageRecord.status == STATUS_POOL)
        session.execute(delete(QueueEntry).where(QueueEntry.image_id.in_(undecided)))
        return returned


def _score(store: Store, model: ExpressionModel, pairs: Sequence[tuple[ImageRecord, FaceData]]) -> np.ndarray:
    """Class probabilities (card order) of each pair's main face; a row of NaN where the model could not score."""
    classes = list(model.card.classes)
    if not model.needs_pixels:
        # A landmark model scores the stored rows alone, in blocks over the executor's workers. Its probability
        # columns are in card order, as `classes` (LandmarkModel.classes is the card's).
        return executor_for(store.settings).predict_proba(model, faces_to_matrix([f for _, f in pairs]))

    def load_rgb(i: int) -> np.ndarray:
        return decode_rgb(store.read_bytes(pairs[i][0]))

    predictions = Recognizer(model).predict_stored([f for _, f in pairs], load_rgb)
    proba = np.full((len(pairs), len(classes)), np.nan)
    for i, pred in enumerate(predictions):
        if pred is not None:
            proba[i] = [pred.probabilities.get(c, 0.0) for c in classes]
    return proba


def build_queue(
    store: Store,
    model: ExpressionModel,
    *,
    model_id: str = "",
    strategy: str = "entropy",
    k: int = 20,
    min_distance: float = DEFAULT_MIN_DISTANCE,
) -> QueueReport:
    """Score the pool with `model` (any kind) and queue the top `k` most uncertain faces, skipping near-duplicates
    of those already picked.

    Images queued by an earlier scoring and not yet decided go back into the pool first and compete again.
    """
    require(Permission.TRAIN)
    if k < 1:
        raise ValueError("the queue size k must be at least 1")
    uncertainty(np.full((1, 2), 0.5), strategy)  # an unknown strategy fails before any change
    report = QueueReport(returned=_return_to_pool(store))
    pairs = _pool_faces(store, report)
    proba = _score(store, model, pairs)
    scorable = ~np.isnan(proba).any(axis=1)
    report.unscored = int((~scorable).sum())
    pairs = [p for p, ok in zip(pairs, scorable, strict=True) if ok]
    proba = proba[scorable]
    if not pairs:
        return report
    scores = uncertainty(proba, strategy)
    order = np.argsort(-scores, kind="stable")
    shapes = aligned_shapes(np.stack([f.landmarks for _, f in pairs]))
    kept, skipped = select_diverse(order.tolist(), shapes, k, min_distance)
    report.near_duplicates = [(pairs[i][0].id, pairs[j][0].id) for i, j in skipped]
    entries = [
        _entry(pairs[i][0].id, rank, float(scores[i]), strategy, model_id, list(model.card.classes), proba[i])
        for rank, i in enumerate(kept)
    ]
    report.queued = _enqueue(store, [pairs[i][0] for i in kept], entries)
    return report


def _pool_faces(store: Store, report: QueueReport) -> list[tuple[ImageRecord, FaceData]]:
    """The pool's images with a face (their main face), counting in `report` those left out and why."""
    pool = store.list_images(Filters(statuses=[STATUS_POOL]))
    report.pool = len(pool)
    pairs = store.faces(Filters(statuses=[STATUS_POOL]))
    report.scored = len(pairs)
    report.not_extracted = sum(1 for r in pool if r.extraction is None)
    report.no_face = report.pool - len(pairs) - report.not_extracted
    return pairs


def _entry(
    image_id: int, rank: int, score: float, strategy: str, model_id: str, classes: list[str], proba: np.ndarray
) -> QueueEntry:
    """The queue entry of one picked image: its rank and score, and the model's answer for the approval card."""
    best = int(np.argmax(proba))
    return QueueEntry(
        image_id=image_id,
        rank=rank,
        score=score,
        strategy=strategy,
        model_id=model_id,
        predicted=classes[best],
        confidence=float(proba[best]),
        probabilities={c: float(p) for c, p in zip(classes, proba, strict=True)},
    )


def _enqueue(store: Store, records: Sequence[ImageRecord], entries: Sequence[QueueEntry]) -> int:
    """Queue the picked images in one transaction; how many were queued."""
    queued = 0
    with store.transaction() as session:
        for record, entry in zip(records, entries, strict=True):
            # Optimistic lock: only an image still in the pool at the version we scored is queued.
            if not store.transition(
                record.id,
                expected_version=record.version,
                expected_status=STATUS_POOL,
                status=STATUS_QUEUED,
                session=session,
            ):
                continue
            session.execute(delete(QueueEntry).where(QueueEntry.image_id == record.id))
            session.add(entry)
            queued += 1
    return queued


def queue_items(store: Store, *, limit: int | None = None, image_ids: Sequence[int] | None = None) -> list[QueueItem]:
    """Queued images in review order (skipped ones last), each with its model prediction and latest proposal."""
    with session_scope(store.engine) as session:
        query = (
            select(ImageRecord, QueueEntry)
            .outerjoin(QueueEntry, QueueEntry.image_id == ImageRecord.id)
            .where(ImageRecord.status == STATUS_QUEUED)
        )
        if image_ids is not None:
            query = query.where(ImageRecord.id.in_(list(image_ids)))
        rows = session.execute(query).all()
        ids = [r.id for r, _ in rows]
        proposals: dict[int, ProposalView] = {}
        for p in session.scalars(select(Proposal).where(Proposal.image_id.in_(ids)).order_by(Proposal.id)):
            proposals[p.image_id] = ProposalView(p.answer, p.confidence, p.rationale, p.model)
        failures: dict[int, str] = {}
        for f in session.scalars(select(LabelFailure).where(LabelFailure.image_id.in_(ids)).order_by(LabelFailure.id)):
            failures[f.image_id] = f.reason
    items = [
        QueueItem(
            image_id=r.id,
            version=r.version,
            path=r.path,
            original_name=r.original_name,
            rank=e.rank if e is not None else 10**9,
            score=e.score if e is not None else 0.0,
            strategy=e.strategy if e is not None else "",
            predicted=e.predicted if e is not None else None,
            confidence=e.confidence if e is not None else 0.0,
            probabilities=dict(e.probabilities) if e is not None else {},
            skipped=bool(e.skipped) if e is not None else False,
            proposal=proposals.get(r.id),
            failure=None if r.id in proposals else failures.get(r.id),
        )
        for r, e in rows
    ]
    items.sort(key=lambda it: (it.skipped, it.rank, it.image_id))
    return items[:limit] if limit is not None else items
