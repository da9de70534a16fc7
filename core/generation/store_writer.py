"""Storing generated images: the job's one writer thread resizes each to the template's size and stores whatever
arrived while it stored the previous batch, in one transaction (`Store.add_images`).

Per image, storing is about 2.5 ms of Python (hash, SQLAlchemy, an fsync) that holds the GIL the event loop needs.
A batch shares the session, the commit and the look-up of its hashes, and its results go back to the event loop in
one call, not one wake-up per image. Nothing waits to fill a batch: a lone image is stored at once.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading

from core.imaging import decode_rgb, encode_png, limit_size, probe_image
from core.store import Store
from core.store.adding import ImageFields

log = logging.getLogger(__name__)
MAX_BATCH = 32

Stored = tuple[int, bool]  # (image id, created)
_Request = tuple[bytes, ImageFields, "asyncio.Future[Stored]"]
_Outcome = tuple["asyncio.Future[Stored]", "Stored | Exception"]


def prepare_image(data: bytes, output_size: int) -> bytes:
    """PNG bytes no larger than `output_size` on the longer side. Raises ImageNotReadable for bad bytes."""
    info = probe_image(data)
    if info.format == "png" and max(info.width, info.height) <= output_size:
        return data
    rgb, _ = limit_size(decode_rgb(data), output_size)
    return encode_png(rgb)


class BatchWriter:
    """Build it on the event loop; `await writer.store(data, fields)` gives (image id, created) or raises what storing
    that image raised (ImageNotReadable for bytes that are no image). `close()` (off the loop) stores what was
    submitted and ends the thread."""

    def __init__(self, store: Store, output_size: int) -> None:
        self._store = store
        self._size = output_size
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="generation-store", daemon=True)
        self._thread.start()

    def store(self, data: bytes, fields: ImageFields) -> asyncio.Future[Stored]:
        future: asyncio.Future[Stored] = self._loop.create_future()
        self._queue.put((data, fields, future))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH and batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            requests = [r for r in batch if r is not None]
            if requests:
                outcomes = self._store_batch(requests)
                try:
                    self._loop.call_soon_threadsafe(_resolve, outcomes)
                except RuntimeError:  # the loop is gone (its run was torn down): the images are stored all the same
                    log.debug("generation writer: no event loop to report %d stored images to", len(outcomes))
            if batch[-1] is None:
                return

    def _store_batch(self, requests: list[_Request]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        ready: list[_Request] = []
        for data, fields, future in requests:
            try:
                ready.append((prepare_image(data, self._size), fields, future))
            except Exception as exc:  # this image fails alone
                outcomes.append((future, exc))
        try:
            results = self._store.add_images([(data, fields) for data, fields, _ in ready])
        except Exception:  # one item the store refuses must not fail the rest: each alone, with its own error
            return outcomes + [(future, self._store_one(data, fields)) for data, fields, future in ready]
        return outcomes + [(future, (r.image_id, r.created)) for (_, _, future), r in zip(ready, results, strict=True)]

    def _store_one(self, data: bytes, fields: ImageFields) -> Stored | Exception:
        try:
            result = self._store.add_image(data, **fields)
        except Exception as exc:
            return exc
        return result.image_id, result.created


def _resolve(outcomes: list[_Outcome]) -> None:
    for future, outcome in outcomes:
        if future.done():  # its waiter was cancelled
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
