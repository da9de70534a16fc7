"""Runs a generation job: asyncio workers under a `RequestLimiter`, results saved item by item.

The event loop only waits on the network. Image decoding, database writes and file writes (with their fsync) run
on two writer threads (images in batches, job states), so a slow disk write never stalls the requests in flight.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import gc
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google import genai

from core.auth import Permission, require
from core.errors import ImageNotReadable
from core.gemini.client import make_client
from core.gemini.ratelimit import RemoteCallFailed, RequestLimiter, RetryPolicy, call_with_retry, redact
from core.generation.image_api import generate_image
from core.generation.jobs import JobStore
from core.generation.store_writer import BatchWriter
from core.generation.templates import GenerationItem, GenerationTemplate
from core.progress import ProgressFn
from core.schema import GEN_DONE, GEN_FAILED, GEN_PENDING, LABEL_PROMPT, SOURCE_GENERATED
from core.settings import Settings
from core.store import Store
from core.store.adding import ImageFields

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RunReport:
    job_id: int
    generated: int = 0
    failed: int = 0
    recovered: int = 0  # items completed from images a crashed run had already stored
    cancelled: bool = False
    elapsed_s: float = 0.0
    new_image_ids: list[int] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (item id, reason)
    extracted: int = 0

    @property
    def rate(self) -> float:
        return self.generated / self.elapsed_s if self.elapsed_s > 0 else 0.0


GenerateFn = Callable[[GenerationItem, int], Awaitable[bytes]]


class JobRunner:
    """One run of one job. Build it, then `await run()`; `cancel` (a threading.Event) stops it from any thread."""

    def __init__(
        self,
        job_id: int,
        *,
        store: Store,
        settings: Settings,
        api_key: str,
        concurrency: int | None = None,
        rpm: float | None = None,
        policy: RetryPolicy | None = None,
        cancel: threading.Event | None = None,
        progress: ProgressFn | None = None,
        extract_landmarks: bool = False,
    ) -> None:
        self.job_id = job_id
        self.store = store
        self.jobs = JobStore(store)
        self.settings = settings
        self._api_key = api_key
        self.concurrency = concurrency or settings.gemini_concurrency
        self.rpm = rpm or settings.gemini_rpm
        self.policy = policy or RetryPolicy(
            max_retries=settings.gemini_max_retries, timeout_s=settings.gemini_timeout_s
        )
        self.cancel = cancel or threading.Event()
        self.progress = progress
        self.extract_landmarks = extract_landmarks
        self.report = RunReport(job_id)
        self._in_flight: set[int] = set()
        self._claimed: collections.deque[GenerationItem] = collections.deque()
        self._claim_batch = max(8, self.concurrency)  # one claim transaction per batch, not per item
        self._done_buffer: list[tuple[int, int]] = []
        self._done_lock = threading.Lock()
        self.flush_interval_s = 0.25
        self._started = 0.0
        self._total = 0
        self._done_before = 0
        self._failed_before = 0

    # ---- the run -------------------------------------------------------------------------------------------
    async def run(self) -> RunReport:
        """Run the job's pending items. One run of a generation at a time is the job queue's rule (the GENERATION
        kind's exclusive key): this is only ever called by that job."""
        # Its starter is the one who may cancel it.
        await asyncio.to_thread(self.jobs.mark_started, self.job_id)
        # A full garbage collection walks every object of the process (the SDK, SQLAlchemy, pydantic schemas: about
        # a million) and holds the GIL, and so the event loop, for 30-75 ms, several times a run. Objects from
        # before the run are moved out of the collector's sight while it runs; the run's own garbage is still
        # collected.
        gc.freeze()
        try:
            return await self._run()
        finally:
            gc.unfreeze()

    async def _run(self) -> RunReport:
        self._started = time.monotonic()
        self._claim_lock = asyncio.Lock()
        # The client (the first of a process loads CA certificates) is made in a thread while the job is read.
        making_client = asyncio.create_task(asyncio.to_thread(make_client, self.settings, self._api_key, self.policy))
        try:
            return await self._run_with(making_client)
        finally:
            if not making_client.done():
                making_client.cancel()

    async def _run_with(self, making_client: asyncio.Task[genai.Client]) -> RunReport:
        template, model, pending = await self._load()
        client = await making_client
        if not pending:
            await _close(client)
            self.report.elapsed_s = time.monotonic() - self._started
            return self.report
        limiter = RequestLimiter(self.concurrency, self.rpm)

        async def generate(item: GenerationItem, seed: int) -> bytes:
            return await generate_image(
                client, model=model, prompt=item.prompt, seed=seed, aspect_ratio=template.aspect_ratio
            )

        # One writer thread stores images in batches (core.generation.store_writer): every extra writer took the GIL
        # from the event loop more than it overlapped fsyncs (measured, bench/generate.py).
        self._writer = BatchWriter(self.store, template.output_size)
        # Job-state writes (claims, done marks, failures) get their own thread, never queued behind image stores.
        self._state_writer = ThreadPoolExecutor(1, thread_name_prefix="generation-state")
        self._store_slots = asyncio.Semaphore(2 * self.concurrency)
        self._store_tasks: set[asyncio.Task[None]] = set()
        workers = [
            asyncio.create_task(self._worker(pending, generate, limiter))
            for _ in range(min(self.concurrency, len(pending)))
        ]
        try:
            outcomes = await self._drive(workers)
        finally:
            await _close(client)
            self.report.elapsed_s = time.monotonic() - self._started
        if self.cancel.is_set():
            self.report.cancelled = True
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        if self.extract_landmarks and self.report.new_image_ids and not self.report.cancelled:
            self.report.extracted = await asyncio.to_thread(self._extract, self.report.new_image_ids)
        self._emit()
        return self.report

    async def _load(self) -> tuple[GenerationTemplate, str, collections.deque[GenerationItem]]:
        """The job's template, model and pending items, after recovering what a crashed run had stored."""
        job = await asyncio.to_thread(self.jobs.get_job, self.job_id)
        template = job.template
        model = template.model or await asyncio.to_thread(self.jobs.job_model, self.job_id)
        self.report.recovered = await asyncio.to_thread(self.jobs.recover, self.job_id)
        pending = collections.deque(await asyncio.to_thread(self.jobs.items, self.job_id, states=[GEN_PENDING]))
        counts = await asyncio.to_thread(self.jobs.counts, self.job_id)
        self._total = sum(counts.values())
        self._done_before = counts[GEN_DONE]
        self._failed_before = counts[GEN_FAILED]
        self._emit()
        return template, model or self.settings.gemini_image_model, pending

    async def _drive(self, workers: list[asyncio.Task[None]]) -> list[BaseException | None]:
        """Wait for the workers, then for the images being stored, and settle the job's items."""
        watcher = asyncio.create_task(self._watch_cancel(workers))
        flusher = asyncio.create_task(self._flush_periodically())
        try:
            # Workers end when the queue is empty or their task is cancelled by the watcher (the cancel event).
            return await asyncio.gather(*workers, return_exceptions=True)
        except asyncio.CancelledError:  # the run itself was cancelled (Ctrl-C in the CLI)
            self.report.cancelled = True
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        finally:
            watcher.cancel()
            flusher.cancel()
            if self._store_tasks:
                await asyncio.gather(*self._store_tasks, return_exceptions=True)
            # In a thread: the loop stays free, and the settling completes even if this task is cancelled again.
            await asyncio.to_thread(self._settle)

    def _settle(self) -> None:
        self._writer.close()
        self._state_writer.shutdown(wait=True)
        self._flush_done()  # done marks first, so that release() below only touches unsettled items
        if self._in_flight:
            # Work that was cut short goes back to pending; a later run picks it up.
            self.jobs.release(sorted(self._in_flight))

    async def _watch_cancel(self, workers: list[asyncio.Task[None]]) -> None:
        while not self.cancel.is_set():
            await asyncio.sleep(0.05)
        self.report.cancelled = True
        for task in workers:
            task.cancel()

    async def _next_item(self, pending: collections.deque[GenerationItem]) -> GenerationItem | None:
        """The next claimed item. Items are claimed (pending -> running) a batch at a time: one transaction per
        batch instead of one per item keeps the database off the critical path at high concurrency."""
        async with self._claim_lock:
            while not self._claimed:
                batch = [pending.popleft() for _ in range(min(len(pending), self._claim_batch))]
                if not batch:
                    return None
                got = set(await self._state(self.jobs.claim_many, [i.id for i in batch]))
                # NOTE: an id leaves the in-flight set only when its item is settled; whatever is still in it when
                # the run ends (cancelled, or claimed but never started) goes back to pending.
                self._in_flight.update(got)
                self._claimed.extend(i for i in batch if i.id in got)  # others finished elsewhere meanwhile
            return self._claimed.popleft()

    async def _worker(
        self,
        pending: collections.deque[GenerationItem],
        generate: GenerateFn,
        limiter: RequestLimiter,
    ) -> None:
        while not self.cancel.is_set():
            item = await self._next_item(pending)
            if item is None:
                return
            try:
                data = await call_with_retry(
                    lambda item=item: generate(item, item.seed),  # type: ignore[misc]
                    limiter=limiter,
                    policy=self.policy,
                    secrets=(self._api_key,),
                )
            except RemoteCallFailed as exc:
                await asyncio.shield(self._state(self._fail, item, exc.reason))
                self._in_flight.discard(item.id)
                self._emit()
            else:
                # Storing goes on in its own task while this worker sends the next request, so the disk never
                # holds a request slot. The slots bound how many images wait in memory; the task is not tied to
                # this worker, so cancelling the run lets paid-for images finish storing.
                await self._store_slots.acquire()
                task = asyncio.create_task(self._store_and_settle(item, data))
                self._store_tasks.add(task)
                task.add_done_callback(self._store_tasks.discard)

    async def _store_and_settle(self, item: GenerationItem, data: bytes) -> None:
        try:
            await self._store_result(item, data)
        finally:
            self._store_slots.release()
        self._in_flight.discard(item.id)
        self._emit()

    async def _store_result(self, item: GenerationItem, data: bytes) -> None:
        try:
            image_id, created = await self._writer.store(data, self._fields(item))
        except ImageNotReadable as exc:
            await self._state(self._fail, item, f"the service returned data that is not a usable image: {exc}")
            return
        except Exception as exc:  # one item that cannot be stored must not end the batch
            log.error("storing item %s failed: %s: %s", item.key, type(exc).__name__, exc)
            await self._state(self._fail, item, f"storing the image failed: {type(exc).__name__}: {exc}")
            return
        with self._done_lock:
            self._done_buffer.append((item.id, image_id))
        self.report.generated += 1
        if created:
            self.report.new_image_ids.append(image_id)

    async def _state(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._state_writer, functools.partial(fn, *args))

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self._state(self._flush_done)

    def _flush_done(self) -> None:
        """Write buffered done marks. Until then a crash loses nothing: `recover` finds the stored images by name."""
        with self._done_lock:
            batch, self._done_buffer = self._done_buffer, []
        self.jobs.mark_done_many(batch)

    # ---- thread side ---------------------------------------------------------------------------------------
    def _fail(self, item: GenerationItem, reason: str) -> None:
        reason = redact(reason, (self._api_key,))
        self.jobs.mark_failed(item.id, reason)
        self.report.failed += 1
        self.report.failures.append((item.id, reason))
        log.warning("item %s failed: %s", item.key, reason)

    def _fields(self, item: GenerationItem) -> ImageFields:
        attrs = item.attributes
        return {
            "original_name": item.file_name,
            "source": SOURCE_GENERATED,
            "emotion": item.emotion,
            "label_source": LABEL_PROMPT,
            "person": item.persona,
            "age": attrs.get("age"),
            "sex": attrs.get("sex"),
            "ethnicity": attrs.get("ethnicity"),
            "tags": [f"gen-job-{self.job_id}"],
            "attributes": {**attrs, "prompt": item.prompt, "generation_job": self.job_id, "generation_key": item.key},
        }

    def _extract(self, image_ids: list[int]) -> int:
        from core.landmarks.batch import extract_paths

        records = {r.id: r for r in self.store.list_images()}
        items = [(i, str(self.store.absolute_path(records[i]))) for i in image_ids if i in records]
        model_sha = self.settings.face_landmarker_sha256
        report = extract_paths(
            items,
            self.settings,
            workers=1,
            on_rows=lambda rows: self.store.save_extractions(rows, model_sha256=model_sha),
            cancel=self.cancel,
        )
        return report.processed

    def _emit(self) -> None:
        if self.progress is None:
            return
        done = self._done_before + self.report.generated
        failed = self._failed_before + self.report.failed
        elapsed = time.monotonic() - self._started
        rate = self.report.generated / elapsed if elapsed > 0 else 0.0
        self.progress(done + failed, self._total, f"{done} done, {failed} failed, {rate:.2f}/s")


async def _close(client: genai.Client) -> None:
    try:
        await client.aio.aclose()
    except Exception:  # closing is best effort; the results are already saved
        log.debug("closing the Gemini client failed", exc_info=True)


def run_job(job_id: int, *, store: Store, settings: Settings, api_key: str, **kwargs: object) -> RunReport:
    """Synchronous entry point (CLI, page thread): runs the job in a fresh event loop."""
    require(Permission.GENERATE)
    runner = JobRunner(job_id, store=store, settings=settings, api_key=api_key, **kwargs)  # type: ignore[arg-type]
    return asyncio.run(runner.run())
