"""The human decisions on queued images: approve, correct, reject, skip, bulk approve, and undo of the last action.

Every decision is one transition of one image, guarded by optimistic locking: the UPDATE only matches the image at
the version (and status) the reviewer saw, so when two people decide the same image at once exactly one wins and the
other gets `Conflict`. This works the same on SQLite and PostgreSQL (on PostgreSQL the second UPDATE waits for the
first transaction and then matches no row).

A label lives in the database only: the image's file stays where the store put it (content-addressed), so a decision
is one database transaction (status, label and audit entry) and nothing on disk has to be kept in step with it.
`python -m core export --emotion-folders DEST` writes a folder-per-emotion view for tools that want one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select, update

from core.active_learning.review_queue import queue_items
from core.active_learning.tables import AuditEntry, QueueEntry
from core.auth import Permission, require, require_owner
from core.db import session_scope
from core.errors import StudioError, UnknownLabel
from core.schema import (
    EMOTIONS,
    LABEL_HUMAN,
    LABEL_LLM,
    LABEL_MODEL,
    STATUS_QUEUED,
    STATUS_REJECTED,
    STATUS_SUITE,
    STATUS_TRAIN,
)
from core.store import Store
from core.store.repository import suite_refusal
from core.store.tables import ImageRecord

APPROVE, CORRECT, REJECT, SKIP, UNDO = "approve", "correct", "reject", "skip", "undo"
ACTIONS: Final[tuple[str, ...]] = (APPROVE, CORRECT, REJECT, SKIP)
# What a decision changes (and undo restores), plus the optimistic-locking version the audit entry records.
_DECIDED_FIELDS: Final[tuple[str, ...]] = ("status", "emotion", "label_source")
_AUDITED_FIELDS: Final[tuple[str, ...]] = (*_DECIDED_FIELDS, "version")


class Conflict(StudioError):
    """Someone else changed the image first (or it is no longer in the expected state)."""


@dataclass(frozen=True)
class Decision:
    image_id: int
    action: str
    audit_id: int
    old: dict[str, Any]
    new: dict[str, Any]


@dataclass
class BulkReport:
    approved: list[int] = field(default_factory=list)
    conflicts: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def _snapshot(record: ImageRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _AUDITED_FIELDS}


def _transition(
    store: Store,
    image_id: int,
    *,
    action: str,
    actor: str,
    expected_version: int | None,
    expected_status: str,
    changes: dict[str, Any],
    undoes: int | None = None,
    note: dict[str, Any] | None = None,
) -> Decision:
    """Apply `changes` to one image under the optimistic lock and write its audit entry, in one transaction."""
    record = store.get(image_id)
    if record is None:
        raise Conflict(f"image #{image_id} no longer exists")
    if (expected_version is not None and record.version != expected_version) or record.status != expected_status:
        raise Conflict(f"image #{image_id} was changed by someone else (now {record.status}, version {record.version})")
    old = _snapshot(record)
    new = {**old, **changes, "version": record.version + 1}
    with store.transaction() as session:
        if not store.transition(
            image_id, expected_version=record.version, expected_status=expected_status, session=session, **changes
        ):
            raise Conflict(f"image #{image_id} was decided by someone else a moment ago")
        entry = AuditEntry(
            image_id=image_id,
            action=action,
            actor=actor,
            old_value=_jsonable(old),
            new_value=_jsonable({**new, **(note or {})}),
            undoes=undoes,
        )
        session.add(entry)
        if undoes is not None:
            session.execute(update(AuditEntry).where(AuditEntry.id == undoes).values(undone=True))
        session.flush()
        return Decision(image_id, action, entry.id, old, new)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if v is None or isinstance(v, (str, int, float, bool)) else str(v)) for k, v in values.items()}


def _check_emotion(label: str) -> str:
    if label not in EMOTIONS:
        raise UnknownLabel(f"unknown emotion {label!r}; valid: {', '.join(EMOTIONS)}")
    return label


def _approve(
    store: Store,
    image_id: int,
    label: str,
    label_source: str,
    action: str,
    *,
    expected_version: int | None,
) -> Decision:
    actor = require(Permission.REVIEW).id
    record = store.get(image_id)
    if record is None:
        raise Conflict(f"image #{image_id} no longer exists")
    if record.status == STATUS_SUITE:
        raise suite_refusal([image_id])
    changes = {"status": STATUS_TRAIN, "emotion": _check_emotion(label), "label_source": label_source}
    return _transition(
        store,
        image_id,
        action=action,
        actor=actor,
        expected_version=expected_version,
        expected_status=STATUS_QUEUED,
        changes=changes,
    )


def approve(store: Store, image_id: int, *, expected_version: int | None = None) -> Decision:
    """Accept the LLM's proposed emotion (or, without a usable proposal, the model's prediction): the image becomes
    training data, its file stays where it is. Recorded under the acting (signed-in) user."""
    require(Permission.REVIEW)
    items = queue_items(store, image_ids=[image_id])
    if not items:
        raise Conflict(f"image #{image_id} is not in the queue any more")
    item = items[0]
    if item.proposal is not None and item.proposal.emotion is not None:
        label, source = item.proposal.emotion, LABEL_LLM
    elif item.predicted is not None:
        label, source = item.predicted, LABEL_MODEL
    else:
        raise StudioError(f"image #{image_id} has neither a proposal nor a prediction: correct it with a label")
    return _approve(
        store,
        image_id,
        label,
        source,
        APPROVE,
        expected_version=expected_version if expected_version is not None else item.version,
    )


def correct(store: Store, image_id: int, label: str, *, expected_version: int | None = None) -> Decision:
    """Label the image with a reviewer-chosen emotion; it becomes training data."""
    return _approve(store, image_id, label, LABEL_HUMAN, CORRECT, expected_version=expected_version)


def reject(store: Store, image_id: int, *, expected_version: int | None = None) -> Decision:
    """Keep the image out of training (not a usable face, ambiguous): status "rejected", no label."""
    return _transition(
        store,
        image_id,
        action=REJECT,
        actor=require(Permission.REVIEW).id,
        expected_version=expected_version,
        expected_status=STATUS_QUEUED,
        changes={"status": STATUS_REJECTED},
    )


def skip(store: Store, image_id: int) -> Decision:
    """Move the card to the end of the queue; the image itself is unchanged."""
    actor = require(Permission.REVIEW).id
    with session_scope(store.engine) as session:
        record = session.get(ImageRecord, image_id)
        if record is None or record.status != STATUS_QUEUED:
            raise Conflict(f"image #{image_id} is not in the queue any more")
        entry = session.get(QueueEntry, image_id)
        if entry is None:
            raise Conflict(f"image #{image_id} has no queue entry")
        old, new = {"skipped": bool(entry.skipped)}, {"skipped": True}
        entry.skipped = True
        audit = AuditEntry(image_id=image_id, action=SKIP, actor=actor, old_value=old, new_value=new)
        session.add(audit)
        session.flush()
        return Decision(image_id, SKIP, audit.id, old, new)


def bulk_approve(store: Store, *, min_confidence: float, image_ids: list[int] | None = None) -> BulkReport:
    """Approve every queued image where the model's prediction and the LLM's proposal agree and both are at least
    `min_confidence` sure. Images someone else decided meanwhile are counted as conflicts, never approved twice."""
    require(Permission.REVIEW)
    report = BulkReport()
    for item in queue_items(store, image_ids=image_ids):
        p = item.proposal
        if p is None or p.emotion is None or p.emotion != item.predicted:
            continue
        if p.confidence < min_confidence or item.confidence < min_confidence:
            continue
        try:
            _approve(store, item.image_id, p.emotion, LABEL_LLM, APPROVE, expected_version=item.version)
        except Conflict:
            report.conflicts.append(item.image_id)
        except (StudioError, OSError) as exc:  # one bad item never stops the batch
            report.failed.append((item.image_id, str(exc)))
        else:
            report.approved.append(item.image_id)
    return report


def last_action(store: Store, actor: str) -> AuditEntry | None:
    """The actor's latest decision that has not been undone (undo entries, and other entries of the log such as an
    admin's image deletion, are not undoable)."""
    with session_scope(store.engine) as session:
        return session.scalars(
            select(AuditEntry)
            .where(AuditEntry.actor == actor.strip(), AuditEntry.undone.is_(False), AuditEntry.action.in_(ACTIONS))
            .order_by(AuditEntry.id.desc())
            .limit(1)
        ).first()


def undo_last(store: Store, *, of: str | None = None) -> Decision | None:
    """Revert the last decision of `of` (default: the acting user's own; only an admin may undo someone else's, and
    the undo entry then names whose decision it reverted). The label and status are restored; None when there is
    nothing to undo. Refused with `Conflict` when someone changed the image since."""
    user = require(Permission.REVIEW)
    owner = of or user.id
    if owner != user.id:
        require_owner(owner, "undoing someone else's decision")
    entry = last_action(store, owner)
    if entry is None:
        return None
    note = {} if owner == user.id else {"undid_decision_of": owner}
    if entry.action == SKIP:
        with session_scope(store.engine) as session:
            queued = session.get(QueueEntry, entry.image_id)
            if queued is not None:
                queued.skipped = bool(entry.old_value.get("skipped", False))
            audit = AuditEntry(
                image_id=entry.image_id,
                action=UNDO,
                actor=user.id,
                old_value=entry.new_value,
                new_value={**entry.old_value, **note},
                undoes=entry.id,
            )
            session.add(audit)
            session.execute(update(AuditEntry).where(AuditEntry.id == entry.id).values(undone=True))
            session.flush()
            return Decision(entry.image_id, UNDO, audit.id, entry.new_value, entry.old_value)
    old, new = entry.old_value, entry.new_value
    changes = {name: old[name] for name in _DECIDED_FIELDS}
    return _transition(
        store,
        entry.image_id,
        action=UNDO,
        actor=user.id,
        expected_version=int(new["version"]),
        expected_status=str(new["status"]),
        changes=changes,
        undoes=entry.id,
        note=note,
    )


def audit_log(store: Store, *, image_id: int | None = None, limit: int | None = None) -> list[AuditEntry]:
    """Audit entries, newest first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if image_id is not None:
        query = query.where(AuditEntry.image_id == image_id)
    if limit is not None:
        query = query.limit(limit)
    with session_scope(store.engine) as session:
        return list(session.scalars(query))
