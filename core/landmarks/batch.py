"""Batch extraction over the store: chunks of images over the executor's workers (processes or Ray actors), one
FaceLandmarker each, resumable and cancellable."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.auth import Permission, require
from core.executors.cluster import worker_settings
from core.executors.executor import executor_for
from core.landmarks.extractor import LandmarkExtractor, Outcome
from core.progress import ProgressFn
from core.records import ExtractionRow
from core.schema import EXTRACTION_ERROR, EXTRACTION_NO_FACE, EXTRACTION_OK
from core.settings import Settings
from core.store import Store

CHUNK = 16


@dataclass
class BatchReport:
    processed: int = 0
    ok: int = 0
    no_face: int = 0
    errors: int = 0
    cancelled: bool = False
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (image id, state, reason)

    def add(self, row: ExtractionRow) -> None:
        image_id, state, reason, _, _ = row
        self.processed += 1
        if state == EXTRACTION_OK:
            self.ok += 1
        elif state == EXTRACTION_NO_FACE:
            self.no_face += 1
        else:
            self.errors += 1
        if state != EXTRACTION_OK or reason:
            self.problems.append((image_id, state, reason))


def _extract_path(extractor: LandmarkExtractor, image_id: int, path: Path) -> ExtractionRow:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return (image_id, EXTRACTION_ERROR, f"cannot read file: {exc.strerror or exc}", 0, None)
    try:
        out: Outcome = extractor.extract_bytes(data)
    except Exception as exc:  # one bad image must never end the batch
        return (image_id, EXTRACTION_ERROR, f"extraction failed: {type(exc).__name__}: {exc}", 0, None)
    return (image_id, out.state, out.reason, out.num_faces, out.face)


class _ExtractWorker:
    """One worker's state (a pool process, a Ray actor, or this process): one landmarker for its lifetime."""

    def __init__(self, settings: Settings) -> None:
        self.extractor = LandmarkExtractor(settings, mode="image")

    def run(self, chunk: Sequence[tuple[int, str]]) -> list[ExtractionRow]:
        return [_extract_path(self.extractor, image_id, Path(path)) for image_id, path in chunk]

    def close(self) -> None:
        self.extractor.close()


def _chunks(items: Sequence[tuple[int, str]], size: int) -> Iterator[Sequence[tuple[int, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def extract_paths(
    items: Sequence[tuple[int, str]],
    settings: Settings,
    *,
    workers: int | None = None,
    on_rows: Callable[[list[ExtractionRow]], None] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> BatchReport:
    """Extract (id, path) items in parallel on the executor (Settings.executor); `on_rows` receives each finished
    chunk (for saving as it goes)."""
    report = BatchReport()
    total = len(items)

    def finish(rows: list[ExtractionRow]) -> None:
        for row in rows:
            report.add(row)
        if on_rows is not None:
            on_rows(rows)
        if progress is not None:
            progress(report.processed, total)

    if progress is not None:
        progress(0, total)
    # Images are read by path, so with Ray every node needs the shared DATA_ROOT at the same path; rows come back
    # here, which saves them (the store stays the one writer).
    report.cancelled = executor_for(settings).map_chunks(
        _ExtractWorker,
        (worker_settings(settings),),
        _chunks(items, CHUNK),
        workers=workers,
        count=-(-total // CHUNK),
        on_result=finish,
        cancel=cancel,
    )
    return report


def extract_store(
    store: Store,
    *,
    workers: int | None = None,
    retry_failed: bool = False,
    only: Collection[int] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> BatchReport:
    """Extract every image of the store that has no extraction yet (of `only`, when given: a suite's images).
    Each chunk is saved as it finishes, so a cancelled or crashed run resumes where it stopped."""
    require(Permission.EXTRACT)
    store.remove_stale_temp_files()  # a crashed import may have left some
    ids = store.pending_extraction_ids(retry_failed=retry_failed)
    if only is not None:
        ids = [i for i in ids if i in only]
    records = {r.id: r for r in store.list_images()} if ids else {}
    items = [(i, str(store.absolute_path(records[i]))) for i in ids if i in records]
    model_sha = store.settings.face_landmarker_sha256

    def save(rows: list[ExtractionRow]) -> None:
        store.save_extractions(rows, model_sha256=model_sha)

    return extract_paths(items, store.settings, workers=workers, on_rows=save, progress=progress, cancel=cancel)
