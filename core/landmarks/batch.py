"""Batch extraction over the store: parallel worker processes, one FaceLandmarker each, resumable and cancellable."""

from __future__ import annotations

import ctypes
import multiprocessing as mp_ctx
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from core.auth import Permission, require
from core.executors import uses_ray
from core.landmarks.extractor import LandmarkExtractor, Outcome
from core.progress import ProgressFn
from core.records import ExtractionRow
from core.schema import EXTRACTION_ERROR, EXTRACTION_NO_FACE, EXTRACTION_OK
from core.settings import Settings
from core.store import Store

CHUNK = 16

# Per-process landmarker, created once by the pool initializer (never per image).
_worker_extractor: LandmarkExtractor | None = None


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


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_CHECK_S = 1.0


def _die_with_parent() -> None:
    """Make this worker exit when the process that started it dies, even by SIGKILL (which runs no cleanup):
    otherwise it stays blocked on a pipe write forever, holding a landmarker. Linux delivers SIGKILL on the
    parent's death (prctl PR_SET_PDEATHSIG); a thread watching the parent's pid covers other systems and the
    moment before prctl took effect."""
    parent_pid = os.getppid()  # under forkserver, the fork server (which exits with the main process)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    if parent_pid == 1:  # the parent died before this worker got here: adopted by init
        os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _init_worker(settings: Settings) -> None:
    global _worker_extractor
    _die_with_parent()
    _worker_extractor = LandmarkExtractor(settings, mode="image")


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


def _work_chunk(items: Sequence[tuple[int, str]]) -> list[ExtractionRow]:
    assert _worker_extractor is not None, "worker initializer did not run"
    return [_extract_path(_worker_extractor, image_id, Path(path)) for image_id, path in items]


class _RayExtractWorker:
    """A Ray actor's state: one landmarker for its lifetime, like a local pool worker."""

    def __init__(self, settings: Settings) -> None:
        self.extractor = LandmarkExtractor(settings, mode="image")

    def run(self, chunk: Sequence[tuple[int, str]]) -> list[ExtractionRow]:
        return [_extract_path(self.extractor, image_id, Path(path)) for image_id, path in chunk]


def _extract_on_ray(
    items: Sequence[tuple[int, str]],
    settings: Settings,
    workers: int | None,
    finish: Callable[[list[ExtractionRow]], None],
    cancel: threading.Event | None,
) -> bool:
    """Chunks over Ray actors; rows come back to this process, which saves them (the store stays the one writer).
    Images are read by path, so every Ray node needs the shared DATA_ROOT at the same path."""
    from core.executors.cluster import worker_settings
    from core.executors.fanout import actor_count, map_on_actors

    chunks = list(_chunks(items, CHUNK))
    actors = actor_count(settings, workers or settings.extract_workers or None, len(chunks))
    init = (worker_settings(settings),)
    return map_on_actors(settings, _RayExtractWorker, init, chunks, actors=actors, on_result=finish, cancel=cancel)


def _chunks(items: Sequence[tuple[int, str]], size: int) -> Iterator[Sequence[tuple[int, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pool_context() -> mp_ctx.context.BaseContext:
    """How to start workers. A plain fork starts them in milliseconds, but is only safe while this process runs a
    single thread (no other thread can hold a lock at fork time): the CLI and scripts. Under Streamlit or a server,
    a forkserver starts them from a clean process that has the heavy imports preloaded once."""
    if threading.active_count() == 1:
        return mp_ctx.get_context("fork")
    ctx = mp_ctx.get_context("forkserver")
    # This module, not only the extractor: a pool worker unpickles `_init_worker` and `_work_chunk` from here, and
    # importing it per pool (the store, SQLAlchemy) cost each job in a worker ~0.6 s of start-up (measured: first
    # chunk after ~1.05 s with the extractor preloaded, ~0.45 s with this module; a plain fork: ~0.4 s).
    ctx.set_forkserver_preload(["core.landmarks.batch"])
    return ctx


@contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Forkserver (and spawn) workers re-import the parent's `__main__` from its file. Under Streamlit that module
    is the running page script, so every worker would run the page again (each st.* call logging "missing
    ScriptRunContext"). The workers need nothing from `__main__`, so its file is hidden while they start and run."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def worker_count(settings: Settings) -> int:
    return settings.extract_workers or max(1, os.cpu_count() or 1)


def extract_paths(
    items: Sequence[tuple[int, str]],
    settings: Settings,
    *,
    workers: int | None = None,
    on_rows: Callable[[list[ExtractionRow]], None] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> BatchReport:
    """Extract (id, path) items in parallel (local processes, or Ray actors with EXECUTOR=ray); `on_rows` receives
    each finished chunk (for saving as it goes)."""
    report = BatchReport()
    total = len(items)
    n_workers = min(workers or worker_count(settings), max(1, total))

    def finish(rows: list[ExtractionRow]) -> None:
        for row in rows:
            report.add(row)
        if on_rows is not None:
            on_rows(rows)
        if progress is not None:
            progress(report.processed, total)

    if progress is not None:
        progress(0, total)
    if uses_ray(settings) and total:
        report.cancelled = _extract_on_ray(items, settings, workers, finish, cancel)
        return report
    if n_workers <= 1:
        with LandmarkExtractor(settings, mode="image") as extractor:
            for chunk in _chunks(items, CHUNK):
                if cancel is not None and cancel.is_set():
                    report.cancelled = True
                    break
                finish([_extract_path(extractor, i, Path(p)) for i, p in chunk])
        return report

    ctx = _pool_context()
    pending: set[Future[list[ExtractionRow]]] = set()
    chunks = _chunks(items, CHUNK)
    with (
        _main_script_hidden(),
        ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_init_worker, initargs=(settings,)) as pool,
    ):
        exhausted = False
        while True:
            cancelled = cancel is not None and cancel.is_set()
            while not cancelled and not exhausted and len(pending) < 3 * n_workers:
                next_chunk: Sequence[tuple[int, str]] | None = next(chunks, None)
                if next_chunk is None:
                    exhausted = True
                    break
                pending.add(pool.submit(_work_chunk, next_chunk))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                finish(fut.result())
            if cancelled:
                report.cancelled = True
                for fut in pending:
                    fut.cancel()
                # Finished chunks are still saved; the rest stays pending for the next run.
                for fut in pending:
                    if not fut.cancelled():
                        finish(fut.result())
                break
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
