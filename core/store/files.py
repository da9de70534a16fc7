"""Content-addressed image files under `<data_root>/images/ab/<sha256>.<ext>` (written with `core.atomic`)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from core.atomic import write_temp

FSYNC_THREADS = 4  # threads that mostly wait on the disk


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def relative_image_path(sha: str, ext: str) -> Path:
    return Path("images") / sha[:2] / f"{sha}{ext}"


def write_temps(items: Sequence[tuple[Path, bytes]]) -> list[Path]:
    """`write_temp` for many (folder, data) at once, in order. Their fsyncs overlap (the filesystem's journal commits
    them together): one after the other, the fsyncs alone held a batch writer to about 100 files a second on a busy
    disk. If any write fails, none of the files is left and its error is raised."""
    if len(items) <= 1:
        return [write_temp(folder, data) for folder, data in items]
    futures = [_fsync_pool().submit(write_temp, folder, data) for folder, data in items]
    wait(futures)
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        for future in futures:
            if future.exception() is None:
                future.result().unlink(missing_ok=True)
        raise errors[0]
    return [f.result() for f in futures]


@functools.cache
def _fsync_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(FSYNC_THREADS, thread_name_prefix="store-fsync")
