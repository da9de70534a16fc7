"""Storing generated images: resize to the template's size, then `Store.add_image`, in a thread or a process.

Storing one image costs several milliseconds of Python (SQLAlchemy, hashing, the atomic file write). At high
concurrency that would compete with the event loop for the GIL, so large runs store from a separate process
(`ProcessStoreWriter`); small runs use a thread and skip the process start-up.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from core.imaging import decode_rgb, encode_png, limit_size, probe_image
from core.settings import Settings
from core.store import Store

# One store per writer process, created by the pool initializer.
_child_store: Store | None = None


def prepare_image(data: bytes, output_size: int) -> bytes:
    """PNG bytes no larger than `output_size` on the longer side. Raises ImageNotReadable for bad bytes."""
    info = probe_image(data)
    if info.format == "png" and max(info.width, info.height) <= output_size:
        return data
    rgb, _ = limit_size(decode_rgb(data), output_size)
    return encode_png(rgb)


def store_generated(store: Store, data: bytes, output_size: int, fields: dict[str, Any]) -> tuple[int, bool]:
    """(image id, created) of the stored image; `fields` are `Store.add_image` keyword arguments."""
    result = store.add_image(prepare_image(data, output_size), **fields)
    return result.image_id, result.created


def _init_child(settings: Settings) -> None:
    global _child_store
    _child_store = Store(settings)


def _store_in_child(data: bytes, output_size: int, fields: dict[str, Any]) -> tuple[int, bool]:
    assert _child_store is not None, "writer initializer did not run"
    return store_generated(_child_store, data, output_size, fields)


def _ready() -> bool:
    return _child_store is not None


class ProcessStoreWriter:
    """One writer process. forkserver: it starts clean (safe under Streamlit's threads) with warm imports."""

    def __init__(self, settings: Settings) -> None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["core.store", "core.generation.store_writer"])
        self._pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=_init_child, initargs=(settings,))
        self._pool.submit(_ready)  # start the process now, while the first requests are in flight

    def submit(self, data: bytes, output_size: int, fields: dict[str, Any]) -> Future[tuple[int, bool]]:
        return self._pool.submit(_store_in_child, data, output_size, fields)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
