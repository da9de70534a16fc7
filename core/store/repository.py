"""The dataset store's operations. Pages, the CLI and the API go through `Store`; nobody else writes its tables
(`images`, `extractions`): other features change an image's status through `transition` / `transition_many`, inside
their own transaction when they record related rows (`Store.transaction`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Unpack

import numpy as np
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from core.db import session_scope
from core.errors import ImageNotReadable, StudioError
from core.migrations import open_database
from core.records import ExtractionRow, FaceData
from core.schema import (
    EXTRACTION_ERROR,
    EXTRACTION_PENDING,
    LABEL_SOURCES,
    NUM_BLENDSHAPES,
    NUM_LANDMARKS,
    STATUS_SUITE,
    STATUSES,
)
from core.settings import Settings, get_settings
from core.store.adding import (
    STALE_TEMP_AGE_S,
    AddResult,
    ImageFields,
    add_images,
    check_value,
    orphan_files,
    remove_stale_temp_files,
)
from core.store.deletion import DeleteReport, delete_images
from core.store.tables import Extraction, ImageRecord, utcnow

log = logging.getLogger("core.store")

# Fields no caller sets: identity, content hash, the file's place (content-addressed: labels never move files), and
# the optimistic-locking bookkeeping the store maintains itself.
_FIXED_FIELDS = frozenset({"id", "sha256", "path", "version", "created_at", "updated_at", "extraction"})


@dataclass(frozen=True)
class Filters:
    emotions: Sequence[str] = ()
    sources: Sequence[str] = ()
    statuses: Sequence[str] = ()
    extraction_states: Sequence[str] = ()
    labeled_only: bool = False


class SuiteImageRefused(StudioError):
    """A suite's test image was about to become training data (or leave its suite some other way)."""


def suite_refusal(image_ids: Sequence[int] | str) -> SuiteImageRefused:
    """The one message for every refused attempt: which image(s), and why they never go to training."""
    which = image_ids if isinstance(image_ids, str) else "image " + ", ".join(f"#{i}" for i in list(image_ids)[:10])
    return SuiteImageRefused(
        f"{which}: a test image of an evaluation suite is never trained on (it would measure the model on what it "
        "learned). Delete the suite (`python -m core suites delete NAME`) and the image first if it should be "
        "training data."
    )


def _guard_suite_status(current: str, new_status: str | None, image_ids: Sequence[int] | str) -> None:
    """Suite images keep their status: only the suite code, which owns them, ever sets or clears it."""
    if new_status is None or new_status == current:
        return
    if current == STATUS_SUITE or new_status == STATUS_SUITE:
        raise suite_refusal(image_ids)


def face_from_row(ext: Extraction) -> FaceData | None:
    """Arrays of a stored extraction, or None when it found no face."""
    if ext.landmarks is None or ext.blendshapes is None or ext.transform is None:
        return None
    return FaceData(
        landmarks=np.frombuffer(ext.landmarks, dtype=np.float32).reshape(NUM_LANDMARKS, 3),
        blendshapes=np.frombuffer(ext.blendshapes, dtype=np.float32).reshape(NUM_BLENDSHAPES),
        transform=np.frombuffer(ext.transform, dtype=np.float32).reshape(4, 4),
        bbox=(ext.bbox_x0 or 0.0, ext.bbox_y0 or 0.0, ext.bbox_x1 or 1.0, ext.bbox_y1 or 1.0),
    )


class Store:
    """Image records plus content-addressed files under the data root."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.data_root = Path(self.settings.data_root)
        self.url = self.settings.resolved_database_url
        # The database is migrated to the latest schema on first use (file moves of a migration under data_root).
        self.engine = open_database(self.url, self.data_root)

    # ---- files -------------------------------------------------------------------------------------------------
    def absolute_path(self, record: ImageRecord) -> Path:
        return self.data_root / record.path

    def read_bytes(self, record: ImageRecord) -> bytes:
        return self.absolute_path(record).read_bytes()

    # ---- writes ------------------------------------------------------------------------------------------------
    def add_image(self, data: bytes, **fields: Unpack[ImageFields]) -> AddResult:
        """Store image bytes with their record. Same bytes twice is a no-op that returns the existing id. The file and
        the row land together or not at all (`core.store.adding`)."""
        return add_images(self, [(data, fields)])[0]

    def add_images(self, items: Sequence[tuple[bytes, ImageFields]]) -> list[AddResult]:
        """`add_image` for many images in one transaction; one bad item raises and stores none."""
        return add_images(self, items)

    def update(self, image_id: int, **fields: Any) -> None:
        """Change record fields (emotion, status, person, tags, attributes, ...), bumping the version."""
        self._check_changes(fields)
        with session_scope(self.engine) as session:
            record = session.get(ImageRecord, image_id)
            if record is None:
                raise KeyError(f"no image with id {image_id}")
            _guard_suite_status(record.status, fields.get("status"), [image_id])
            for key, value in fields.items():
                setattr(record, key, value)
            record.version += 1
            record.updated_at = utcnow()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction for a feature that records its own rows (an audit entry, a queue entry) together with a
        status change: pass the session to `transition` / `transition_many`, add your rows, commit on exit."""
        with session_scope(self.engine) as session:
            yield session

    def transition(
        self,
        image_id: int,
        *,
        expected_version: int,
        expected_status: str,
        session: Session | None = None,
        **changes: Any,
    ) -> bool:
        """Compare-and-set: apply `changes` (status, emotion, label source) and bump the version only if the
        image is still at `expected_version` and `expected_status`. False when someone changed it first.

        The UPDATE itself is the check, so two writers racing on SQLite or PostgreSQL never both win (on PostgreSQL
        the second waits for the first transaction, then matches no row)."""
        self._check_changes(changes)
        _guard_suite_status(expected_status, changes.get("status"), [image_id])
        query = (
            update(ImageRecord)
            .where(
                ImageRecord.id == image_id,
                ImageRecord.version == expected_version,
                ImageRecord.status == expected_status,
            )
            .values(**changes, version=ImageRecord.version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        with self._session(session) as s:
            return bool(s.execute(query).rowcount == 1)  # type: ignore[attr-defined]

    def transition_many(
        self,
        image_ids: Sequence[int] | None,
        *,
        from_status: str,
        to_status: str,
        session: Session | None = None,
    ) -> int:
        """Move every image of `image_ids` (None: all images) that is in `from_status` to `to_status`, bumping
        their versions; returns how many moved. Images in another status are left alone."""
        check_value(from_status, STATUSES, "status")
        check_value(to_status, STATUSES, "status")
        _guard_suite_status(from_status, to_status, "suite images" if image_ids is None else image_ids)
        query = update(ImageRecord).where(ImageRecord.status == from_status)
        if image_ids is not None:
            query = query.where(ImageRecord.id.in_(list(image_ids)))
        query = query.values(status=to_status, version=ImageRecord.version + 1, updated_at=utcnow())
        with self._session(session) as s:
            return int(s.execute(query.execution_options(synchronize_session=False)).rowcount or 0)  # type: ignore[attr-defined]

    @contextmanager
    def _session(self, session: Session | None) -> Iterator[Session]:
        """The caller's open session, or a transaction of our own."""
        if session is not None:
            yield session
        else:
            with session_scope(self.engine) as own:
                yield own

    @staticmethod
    def _check_changes(changes: dict[str, Any]) -> None:
        check_value(changes.get("status"), STATUSES, "status")
        check_value(changes.get("label_source"), LABEL_SOURCES, "label source")
        for key in changes:
            if not hasattr(ImageRecord, key):
                raise ValueError(f"unknown image field {key!r}")
            if key in _FIXED_FIELDS:
                raise ValueError(f"image field {key!r} cannot be changed")

    def save_extractions(
        self,
        rows: Sequence[ExtractionRow],
        *,
        model_sha256: str = "",
    ) -> None:
        """Insert or replace many extractions in one transaction: (image_id, state, reason, num_faces, face)."""
        if not rows:
            return
        with session_scope(self.engine) as session:
            ids = [r[0] for r in rows]
            session.execute(delete(Extraction).where(Extraction.image_id.in_(ids)))
            for image_id, state, reason, num_faces, face in rows:
                ext = Extraction(
                    image_id=image_id,
                    state=state,
                    reason=reason,
                    num_faces=num_faces,
                    model_sha256=model_sha256,
                    extracted_at=utcnow(),
                )
                if face is not None:
                    ext.landmarks = np.ascontiguousarray(face.landmarks, dtype=np.float32).tobytes()
                    ext.blendshapes = np.ascontiguousarray(face.blendshapes, dtype=np.float32).tobytes()
                    ext.transform = np.ascontiguousarray(face.transform, dtype=np.float32).tobytes()
                    ext.bbox_x0, ext.bbox_y0, ext.bbox_x1, ext.bbox_y1 = (float(v) for v in face.bbox)
                session.add(ext)

    def delete_images(self, image_ids: Iterable[int]) -> DeleteReport:
        """Delete images with everything that hangs on them (admin only): see `core.store.deletion`."""
        return delete_images(self, image_ids)

    # ---- reads -------------------------------------------------------------------------------------------------
    def find_by_sha(self, sha: str) -> int | None:
        with session_scope(self.engine) as session:
            return session.scalar(select(ImageRecord.id).where(ImageRecord.sha256 == sha))

    def get(self, image_id: int) -> ImageRecord | None:
        with session_scope(self.engine) as session:
            return session.get(ImageRecord, image_id)

    def _filtered(self, query: Select[Any], filters: Filters | None) -> Select[Any]:
        if filters is None:
            return query
        if filters.emotions:
            query = query.where(ImageRecord.emotion.in_(list(filters.emotions)))
        if filters.sources:
            query = query.where(ImageRecord.source.in_(list(filters.sources)))
        if filters.statuses:
            query = query.where(ImageRecord.status.in_(list(filters.statuses)))
        if filters.labeled_only:
            query = query.where(ImageRecord.emotion.is_not(None))
        if filters.extraction_states:
            states = [s for s in filters.extraction_states if s != EXTRACTION_PENDING]
            if EXTRACTION_PENDING in filters.extraction_states:  # pending: no extraction row yet
                query = query.outerjoin(Extraction).where(Extraction.image_id.is_(None) | Extraction.state.in_(states))
            else:
                query = query.join(Extraction).where(Extraction.state.in_(states))
        return query

    def list_images(self, filters: Filters | None = None, *, limit: int | None = None) -> list[ImageRecord]:
        """Records (with their extraction loaded) in id order."""
        query = self._filtered(select(ImageRecord), filters).order_by(ImageRecord.id)
        if limit is not None:
            query = query.limit(limit)
        with session_scope(self.engine) as session:
            return list(session.scalars(query))

    def image_ids(self, filters: Filters | None = None, *, ids: Iterable[int] | None = None) -> list[int]:
        """Ids of the images matching `filters` (and among `ids`, when given), in id order."""
        query = self._filtered(select(ImageRecord.id), filters).order_by(ImageRecord.id)
        with session_scope(self.engine) as session:
            if ids is None:
                return list(session.scalars(query))
            wanted = sorted({int(i) for i in ids})
            out: list[int] = []
            for start in range(0, len(wanted), 500):  # bounded IN lists (SQLite limits bound parameters)
                out += session.scalars(query.where(ImageRecord.id.in_(wanted[start : start + 500])))
            return out

    def count(self, filters: Filters | None = None) -> int:
        query = self._filtered(select(func.count(ImageRecord.id)), filters)
        with session_scope(self.engine) as session:
            return int(session.scalar(query) or 0)

    def counts_by(self, column: str) -> dict[str, int]:
        """Counts grouped by `emotion`, `source`, `status` or `label_source` (None shown as 'unlabeled')."""
        if column not in {"emotion", "source", "status", "label_source"}:
            raise ValueError(f"cannot group by {column!r}")
        col = getattr(ImageRecord, column)
        with session_scope(self.engine) as session:
            rows = session.execute(select(col, func.count(ImageRecord.id)).group_by(col)).all()
        return {(key if key is not None else "unlabeled"): int(n) for key, n in rows}

    def extraction_counts(self) -> dict[str, int]:
        """Counts by extraction state, plus `pending` for images not yet extracted."""
        with session_scope(self.engine) as session:
            rows = session.execute(select(Extraction.state, func.count()).group_by(Extraction.state)).all()
            total = session.scalar(select(func.count(ImageRecord.id))) or 0
        out = {state: int(n) for state, n in rows}
        out[EXTRACTION_PENDING] = int(total) - sum(out.values())
        return out

    def pending_extraction_ids(self, *, retry_failed: bool = False) -> list[int]:
        """Ids of images without an extraction (and, if asked, those whose extraction failed)."""
        query = select(ImageRecord.id).outerjoin(Extraction).where(Extraction.image_id.is_(None))
        if retry_failed:
            query = (
                select(ImageRecord.id)
                .outerjoin(Extraction)
                .where((Extraction.image_id.is_(None)) | (Extraction.state == EXTRACTION_ERROR))
            )
        with session_scope(self.engine) as session:
            return list(session.scalars(query.order_by(ImageRecord.id)))

    def faces(self, filters: Filters | None = None) -> list[tuple[ImageRecord, FaceData]]:
        """Records that have a face, with their arrays."""
        out = []
        for record in self.list_images(filters):
            face = face_from_row(record.extraction) if record.extraction is not None else None
            if face is not None:
                out.append((record, face))
        return out

    def orphan_files(self) -> list[Path]:
        """Files under images/ that no record names (left by a crash between rename and commit)."""
        return orphan_files(self)

    def remove_stale_temp_files(self, older_than_s: float = STALE_TEMP_AGE_S) -> int:
        """Delete `.incoming-*.part` files a crashed import left behind (old ones only); returns how many."""
        return remove_stale_temp_files(self, older_than_s)


__all__ = [
    "AddResult",
    "DeleteReport",
    "Filters",
    "ImageNotReadable",
    "Store",
    "SuiteImageRefused",
    "face_from_row",
    "suite_refusal",
]
