"""Filling the unlabeled pool: a folder (the seed's `dataset/random_expressions/`), uploads or webcam snapshots
(which the Live page stores with status "pool"), then landmark extraction of whatever is not yet extracted.

Pool images are stored without a label even when their file name looks like one: labels come from review only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from core.ingest import ImportReport, Incoming, import_folder, import_items
from core.landmarks.batch import BatchReport, extract_store
from core.progress import ProgressFn
from core.schema import EXTRACTION_NO_FACE, EXTRACTION_PENDING, SOURCE_POOL, STATUS_POOL
from core.store import Store
from core.store.repository import Filters


def add_to_pool(
    store: Store,
    items: Iterable[tuple[str, bytes]],
    *,
    total: int | None = None,
    source: str = SOURCE_POOL,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> ImportReport:
    """Store (name, bytes) items unlabeled with status "pool"; a bad file is listed with its reason, never fatal."""
    return import_items(
        store,
        (Incoming(name, data) for name, data in items),
        total=total,
        source=source,
        status=STATUS_POOL,
        labels_from_names=False,
        progress=progress,
        cancel=cancel,
    )


def import_pool_folder(
    store: Store,
    root: Path,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> ImportReport:
    """Every image below `root` into the pool (hidden files and non-images are ignored). The folder import of
    `core.ingest`: paths resolved, links out of the folder and oversized files skipped with their reason. A dashboard
    import's `root` has passed `core.import_roots.check_import` (the pool job checks it)."""
    return import_folder(
        store,
        root,
        source=SOURCE_POOL,
        status=STATUS_POOL,
        labels_from_names=False,
        progress=progress,
        cancel=cancel,
    )


def extract_pool(
    store: Store,
    *,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> BatchReport:
    """Extract landmarks of every image that has none yet (resumable: finished chunks are saved as they come)."""
    return extract_store(store, workers=workers, progress=progress, cancel=cancel)


def pool_counts(store: Store) -> dict[str, int]:
    """Pool images by extraction outcome: with a face, without one, not yet extracted."""
    records = store.list_images(Filters(statuses=[STATUS_POOL]))
    out = {STATUS_POOL: len(records), "face": 0, EXTRACTION_NO_FACE: 0, EXTRACTION_PENDING: 0}
    for r in records:
        if r.extraction is None:
            out[EXTRACTION_PENDING] += 1
        elif r.extraction.landmarks is not None:
            out["face"] += 1
        else:
            out[EXTRACTION_NO_FACE] += 1
    return out
