"""Deleting images (admins only): rows, their dependents and an audit entry per image, then the files.

The database does the cascade (`ON DELETE CASCADE` on extractions and the active-learning queue, proposals and label
failures; `SET NULL` on generation items, which keep their prompt and cost). Each chunk of images is one transaction:
its rows and its audit entries land together or not at all. Files are removed only after their chunk commits, so a
failed commit never leaves a row without its file; a file that cannot be removed is reported, and
`Store.orphan_files` finds it later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import delete, select, text

from core.auth import Permission, require
from core.db import session_scope
from core.errors import StudioError
from core.store.tables import Extraction, ImageRecord

if TYPE_CHECKING:
    from core.store.repository import Store

log = logging.getLogger("core.store")

# The audit log's action for a deleted image (`al_audit` has no foreign key: the entry outlives the image).
AUDIT_DELETE: Final = "delete"
# Images per transaction: bounds memory and how long one transaction holds SQLite's write lock.
CHUNK: Final = 500


@dataclass
class DeleteReport:
    deleted: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # ids that named no image (already deleted, or never existed)
    files_removed: int = 0
    files_not_removed: list[tuple[str, str]] = field(default_factory=list)  # (path, why)

    def summary(self) -> str:
        parts = [f"{len(self.deleted)} image(s) deleted", f"{self.files_removed} file(s) removed"]
        if self.missing:
            parts.append(f"{len(self.missing)} id(s) not found")
        if self.files_not_removed:
            parts.append(f"{len(self.files_not_removed)} file(s) could not be removed")
        return ", ".join(parts)


def _chunks(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    it = iter(ids)
    while chunk := list(islice(it, size)):
        yield chunk


def _old_value(record: ImageRecord, state: str | None) -> dict[str, object]:
    return {
        "status": record.status,
        "emotion": record.emotion,
        "label_source": record.label_source,
        "source": record.source,
        "path": record.path,
        "original_name": record.original_name,
        "sha256": record.sha256,
        "extraction": state,
        "version": record.version,
    }


def delete_images(store: Store, image_ids: Iterable[int], *, chunk_size: int = CHUNK) -> DeleteReport:
    """Delete the images `image_ids` (admin only; see the module docstring). Duplicate ids count once."""
    from core.active_learning.tables import AuditEntry  # the active-learning package imports the store

    actor = require(Permission.DELETE)
    ids = sorted({int(i) for i in image_ids})
    report = DeleteReport()
    for chunk in _chunks(ids, chunk_size):
        paths: list[str] = []
        with session_scope(store.engine) as session:
            # The cascade is the database's: with SQLite's foreign keys off, dependents would be left behind.
            if store.engine.dialect.name == "sqlite" and session.execute(text("PRAGMA foreign_keys")).scalar() != 1:
                raise StudioError("SQLite foreign keys are off; refusing to delete (dependents would remain)")
            rows = session.execute(
                select(ImageRecord, Extraction.state)
                .outerjoin(Extraction, Extraction.image_id == ImageRecord.id)
                .where(ImageRecord.id.in_(chunk))
            ).all()
            found = {record.id for record, _ in rows}
            for record, state in rows:
                session.add(
                    AuditEntry(
                        image_id=record.id,
                        action=AUDIT_DELETE,
                        actor=actor.id,
                        old_value=_old_value(record, state),
                        new_value={},
                    )
                )
                paths.append(record.path)
            session.execute(
                delete(ImageRecord).where(ImageRecord.id.in_(found)).execution_options(synchronize_session=False)
            )
            # A file another record still names (one path, two rows) stays.
            shared = set(session.scalars(select(ImageRecord.path).where(ImageRecord.path.in_(paths))))
        report.deleted.extend(sorted(found))
        report.missing.extend(i for i in chunk if i not in found)
        for rel in paths:
            if rel not in shared:
                _remove(store.data_root / rel, rel, report)
    if report.deleted:
        log.info("images deleted", extra={"count": len(report.deleted), "actor": actor.id})
    return report


def _remove(path: Path, rel: str, report: DeleteReport) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        report.files_not_removed.append((rel, "already missing"))
    except OSError as exc:
        report.files_not_removed.append((rel, exc.strerror or type(exc).__name__))
    else:
        report.files_removed += 1
