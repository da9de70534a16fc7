"""The human decisions on queued images: approve, correct, reject, skip, bulk approve, and undo of the last action.

Every decision is one transition of one image, guarded by optimistic locking: the UPDATE only matches the image at
the version (and status) the reviewer saw, so when two people decide the same image at once exactly one wins and the
other gets `Conflict`. This works the same on SQLite and PostgreSQL (on PostgreSQL the second UPDATE waits for the
first transaction and then matches no row).

Approve-and-move is one transaction: the status and label change, the audit entry and the file move into the training
folder either all happen or none does. The file is moved while the transaction is open (the row lock is held), and
moved back if anything after it fails, including the commit. A process killed between the move and the commit
cannot move it back: the row still says "queued" at the old path while the file is already in the training folder.
So a decision looks for the file where an interrupted decision would have put it (`locate_file`) and finishes the
job; `repair_files` puts such files back where their rows say, for every image at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Final

from sqlalchemy import select, update

from core.active.queue import queue_items
from core.active.tables import AuditEntry, QueueEntry
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
from core.store import Store, files
from core.store.repository import suite_refusal
from core.store.tables import ImageRecord

log = logging.getLogger(__name__)

APPROVE, CORRECT, REJECT, SKIP, UNDO = "approve", "correct", "reject", "skip", "undo"
ACTIONS: Final[tuple[str, ...]] = (APPROVE, CORRECT, REJECT, SKIP)
# Approved files move out of the content-addressed area into the training set, one folder per emotion.
TRAINING_FOLDER: Final[PurePosixPath] = PurePosixPath("images") / "train"
_AUDITED_FIELDS: Final[tuple[str, ...]] = ("status", "emotion", "label_source", "path", "version")

# Called with the name of each finished step ("status_changed", "audited", "file_moved"); tests inject failures here.
StepHook = Callable[[str], None]


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


def training_path(record_path: str, emotion: str) -> str:
    """Where an approved image's file lives: images/train/<emotion>/<file name>."""
    return (TRAINING_FOLDER / emotion / PurePosixPath(record_path).name).as_posix()


def locate_file(store: Store, path: str) -> Path | None:
    """The file of a row whose path is `path`: there, or where an interrupted decision left it (in a training
    folder of any emotion, or back in the content-addressed folder after an interrupted undo); None if nowhere."""
    here = store.data_root / path
    if here.is_file():
        return here
    name = PurePosixPath(path)
    candidates = [store.data_root / files.relative_image_path(name.stem, name.suffix)]
    training = store.data_root / TRAINING_FOLDER
    if training.is_dir():
        candidates += [folder / name.name for folder in sorted(training.iterdir())]
    return next((c for c in candidates if c.is_file()), None)


def repair_files(store: Store) -> list[int]:
    """Move files that an interrupted decision left elsewhere back to where their rows say; the ids repaired.
    It finishes what review decisions started, so it needs the labeler role."""
    require(Permission.REVIEW)
    repaired = []
    for record in store.list_images():
        found = locate_file(store, record.path)
        target = store.data_root / record.path
        if found is not None and found != target:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(found, target)
            log.warning("image #%d: moved its file back from %s to %s", record.id, found, record.path)
            repaired.append(record.id)
    return repaired


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
    on_step: StepHook | None = None,
) -> Decision:
    """Apply `changes` to one image under the optimistic lock, write the audit entry and move the file if the path
    changes, all in one transaction (with the move undone if the transaction fails)."""

    record = store.get(image_id)
    if record is None:
        raise Conflict(f"image #{image_id} no longer exists")
    if (expected_version is not None and record.version != expected_version) or record.status != expected_status:
        raise Conflict(f"image #{image_id} was changed by someone else (now {record.status}, version {record.version})")
    old = _snapshot(record)
    new = {**old, **changes, "version": record.version + 1}
    note = note or {}
    home, dst = store.data_root / old["path"], store.data_root / new["path"]
    src = locate_file(store, old["path"]) if dst != home else home
    step = on_step or (lambda _name: None)
    moved = False
    try:
        with store.transaction() as session:
            if not store.transition(
                image_id,
                expected_version=record.version,
                expected_status=expected_status,
                session=session,
                **changes,
            ):
                raise Conflict(f"image #{image_id} was decided by someone else a moment ago")
            step("status_changed")
            entry = AuditEntry(
                image_id=image_id,
                action=action,
                actor=actor,
                old_value=_jsonable(old),
                new_value=_jsonable({**new, **note}),
                undoes=undoes,
            )
            session.add(entry)
            if undoes is not None:
                session.execute(update(AuditEntry).where(AuditEntry.id == undoes).values(undone=True))
            session.flush()
            audit_id = entry.id
            step("audited")
            if src is None:
                raise StudioError(f"the file of image #{image_id} is missing ({old['path']})")
            if src != dst:  # src == dst: an interrupted decision already moved it there
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
                moved = True
                step("file_moved")
    except BaseException:
        if moved:
            try:  # compensation: the transaction rolled back, so the file goes back where the row says it is
                os.replace(dst, home)
            except OSError:
                log.exception("could not move %s back to %s after a failed decision", dst, home)
        raise
    return Decision(image_id, action, audit_id, old, new)


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
    on_step: StepHook | None,
) -> Decision:
    actor = require(Permission.REVIEW).id
    record = store.get(image_id)
    if record is None:
        raise Conflict(f"image #{image_id} no longer exists")
    if record.status == STATUS_SUITE:
        raise suite_refusal([image_id])
    changes = {
        "status": STATUS_TRAIN,
        "emotion": _check_emotion(label),
        "label_source": label_source,
        "path": training_path(record.path, label),
    }
    return _transition(
        store,
        image_id,
        action=action,
        actor=actor,
        expected_version=expected_version,
        expected_status=STATUS_QUEUED,
        changes=changes,
        on_step=on_step,
    )


def approve(
    store: Store,
    image_id: int,
    *,
    expected_version: int | None = None,
    on_step: StepHook | None = None,
) -> Decision:
    """Accept the LLM's proposed emotion (or, without a usable proposal, the model's prediction) and move the image
    into the training set. Recorded under the acting (signed-in) user."""
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
        on_step=on_step,
    )


def correct(
    store: Store,
    image_id: int,
    label: str,
    *,
    expected_version: int | None = None,
    on_step: StepHook | None = None,
) -> Decision:
    """Label the image with a reviewer-chosen emotion and move it into the training set."""
    return _approve(store, image_id, label, LABEL_HUMAN, CORRECT, expected_version=expected_version, on_step=on_step)


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
            _approve(
                store,
                item.image_id,
                p.emotion,
                LABEL_LLM,
                APPROVE,
                expected_version=item.version,
                on_step=None,
            )
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
    the undo entry then names whose decision it reverted). The file moves back and the label and status are
    restored; None when there is nothing to undo. Refused with `Conflict` when someone changed the image since."""
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
    changes = {name: old[name] for name in ("status", "emotion", "label_source", "path")}
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
