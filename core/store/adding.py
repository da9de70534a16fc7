"""Adding images to the store: files and rows that land together or not at all, one image or a batch in one
transaction (a generation job's writer stores what arrived meanwhile: one session, one commit, one look-up of the
hashes for many images). Also the leftovers of an interrupted add: files no row names, old temporary files."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.db import session_scope
from core.errors import StudioError
from core.imaging import probe_image
from core.schema import (
    LABEL_MODEL,
    LABEL_SOURCES,
    SOURCE_IMPORTED,
    SOURCES,
    STATUS_POOL,
    STATUS_TRAIN,
    STATUSES,
    TRAINABLE_STATUSES,
)
from core.store import files
from core.store.tables import ImageRecord

if TYPE_CHECKING:
    from core.store.repository import Store

log = logging.getLogger("core.store")

# A temp file this old is no write in progress (those are renamed within moments) but a crash's leftover.
STALE_TEMP_AGE_S = 600.0

_EXT_BY_FORMAT = {"jpeg": ".jpg", "png": ".png", "bmp": ".bmp", "webp": ".webp", "tiff": ".tif", "gif": ".gif"}


class ImageFields(TypedDict, total=False):
    """The record fields a caller may give a new image (`Store.add_image`'s keyword arguments)."""

    original_name: str
    source: str
    emotion: str | None
    label_source: str | None
    status: str | None
    person: str | None
    age: str | None
    sex: str | None
    ethnicity: str | None
    tags: Iterable[str]
    attributes: dict[str, Any] | None


@dataclass(frozen=True)
class AddResult:
    image_id: int
    created: bool  # False when the same bytes were already in the store (a no-op)


def check_value(value: str | None, allowed: Sequence[str], what: str) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(allowed)}")


@dataclass(frozen=True)
class _Planned:
    """One checked image: its bytes, hash, path under the data root and the row to insert."""

    data: bytes
    sha: str
    rel: Path
    row: dict[str, Any]


def _plan(data: bytes, fields: ImageFields) -> _Planned:
    """Check the fields and the bytes (ImageNotReadable for empty and non-image bytes) before anything is written."""
    unknown = set(fields) - ImageFields.__optional_keys__
    if unknown:
        raise TypeError(f"unknown image field(s): {', '.join(sorted(unknown))}")
    source, emotion = fields.get("source", SOURCE_IMPORTED), fields.get("emotion")
    label_source = fields.get("label_source")
    check_value(source, SOURCES, "source")
    check_value(label_source, LABEL_SOURCES, "label source")
    status = fields.get("status") or (STATUS_TRAIN if emotion and label_source != LABEL_MODEL else STATUS_POOL)
    check_value(status, STATUSES, "status")
    if emotion and label_source == LABEL_MODEL and status in TRAINABLE_STATUSES:
        # A model's label is a suggestion: it reaches training only through a person's review (active learning).
        raise StudioError(
            "a label predicted by a model is not training data: store the image in the pool, where a person "
            "confirms or corrects it"
        )
    info = probe_image(data)
    sha = files.sha256_bytes(data)
    rel = files.relative_image_path(sha, _EXT_BY_FORMAT.get(info.format, ".img"))
    row = {
        **{k: fields.get(k) for k in ("person", "age", "sex", "ethnicity")},
        "sha256": sha,
        "path": rel.as_posix(),
        "original_name": fields.get("original_name", ""),
        "width": info.width,
        "height": info.height,
        "source": source,
        "emotion": emotion,
        "label_source": label_source if emotion else None,
        "status": status,
        "tags": list(fields.get("tags", ())),
        "attributes": fields.get("attributes") or {},
    }
    return _Planned(data, sha, rel, row)


def add_images(store: Store, items: Sequence[tuple[bytes, ImageFields]]) -> list[AddResult]:
    """Store many images, in order; bytes already stored (or twice in `items`) are a no-op giving the existing id.
    Every item is checked first: one bad item raises and nothing is written."""
    planned = [_plan(data, fields) for data, fields in items]
    try:
        return _insert(store, planned)
    except IntegrityError:
        if len(planned) > 1:  # another writer stored some of these bytes meanwhile: each settles its own race
            return [r for p in planned for r in _insert_one(store, p)]
        raise


def _insert_one(store: Store, planned: _Planned) -> list[AddResult]:
    try:
        return _insert(store, [planned])
    except IntegrityError:
        found = store.find_by_sha(planned.sha)
        if found is None:
            raise
        return [AddResult(found, False)]


def _insert(store: Store, planned: list[_Planned]) -> list[AddResult]:
    """The files are written to temporary names (each fsynced) first, renamed into place inside the open
    transaction, then the rows commit; on any failure the placed files are removed again.
    A crash can leave a file without a row (`orphan_files`), never a row without its file."""
    temps: list[Path] = []
    placed: list[Path] = []
    try:
        with session_scope(store.engine) as session:
            shas = sorted({p.sha for p in planned})
            known: dict[str, int] = dict(
                session.execute(select(ImageRecord.sha256, ImageRecord.id).where(ImageRecord.sha256.in_(shas))).all()
            )
            new: dict[str, tuple[_Planned, ImageRecord]] = {}
            for p in planned:  # the first of the same bytes twice in a batch gives the record its fields
                if p.sha not in known and p.sha not in new:
                    new[p.sha] = (p, ImageRecord(**p.row))
            temps += files.write_temps([((store.data_root / p.rel).parent, p.data) for p, _ in new.values()])
            session.add_all([record for _, record in new.values()])
            session.flush()  # the unique sha256 constraint fires here, before any file moves
            for (p, _), tmp in zip(new.values(), temps, strict=True):
                final = store.data_root / p.rel
                if not final.exists():
                    os.replace(tmp, final)
                    placed.append(final)
            ids = {sha: record.id for sha, (_, record) in new.items()}
        placed.clear()  # committed: the files stay
        created: set[str] = set()
        out = []
        for p in planned:
            first = p.sha in ids and p.sha not in created
            created.add(p.sha)
            out.append(AddResult(ids[p.sha] if p.sha in ids else known[p.sha], first))
        return out
    except BaseException:
        for final in placed:
            final.unlink(missing_ok=True)
        raise
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def orphan_files(store: Store) -> list[Path]:
    """Files under images/ that no record names (left by a crash between rename and commit)."""
    root = store.data_root / "images"
    if not root.exists():
        return []
    with session_scope(store.engine) as session:
        known = set(session.scalars(select(ImageRecord.path)))
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and (p.name.startswith(".incoming-") or p.relative_to(store.data_root).as_posix() not in known)
    ]


def remove_stale_temp_files(store: Store, older_than_s: float = STALE_TEMP_AGE_S) -> int:
    """Delete `.incoming-*.part` files a crashed import left behind; returns how many. Only old ones: a young one may
    belong to an import running right now in another process (a rename follows its write within moments)."""
    cutoff = time.time() - older_than_s
    removed = 0
    for path in orphan_files(store):
        if not (path.name.startswith(".incoming-") and path.name.endswith(".part")):
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another process cleaned it first
            continue
    if removed:
        log.info("removed stale temporary files", extra={"count": removed})
    return removed
