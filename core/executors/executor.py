"""The one `Executor`, chosen once from Settings.executor: where extraction, evaluation, pool scoring, grid searches
and torch training run. The call sites use its few operations and never ask which executor it is.

- `inline`: everything in this process (tests, debugging, a machine with one core);
- `local`: worker processes on this machine (the default);
- `ray`: a Ray cluster (core.executors.fanout), results come back here, so writes stay where they were.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from core.settings import Settings

T = TypeVar("T")


class ChunkWorker(Protocol):
    """A worker class: built once per worker (its heavy state, e.g. a landmarker), then `run` per chunk. Module
    level, so processes and Ray actors can build it."""

    def run(self, chunk: Any) -> Any: ...


@dataclass(frozen=True)
class ChunkRun:
    """One `map_chunks` call, as the executors' `_fan_out` spreads it."""

    worker_cls: Callable[..., ChunkWorker]
    init_args: tuple[Any, ...]
    chunks: Iterable[Any]
    on_result: Callable[[Any], None]
    cancel: threading.Event | None


@dataclass(frozen=True)
class Task(Generic[T]):
    """One `run_task` call, as the executors' `_run` runs it."""

    fn: Callable[..., T]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    progress: Callable[..., None] | None
    cancel: threading.Event | None
    on_worker: Callable[[T], T]


class Executor:
    """Inline: the base the others refine."""

    name = "inline"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def workers(self, requested: int | None = None) -> int:
        """How many workers a fan-out gets unless told: one inline."""
        return 1

    def map_chunks(
        self,
        worker_cls: Callable[..., ChunkWorker],
        init_args: tuple[Any, ...],
        chunks: Iterable[Any],
        *,
        workers: int | None = None,
        count: int | None = None,
        on_result: Callable[[Any], None],
        cancel: threading.Event | None = None,
    ) -> bool:
        """`worker_cls(*init_args).run(chunk)` for every chunk, `on_result` called here as each finishes (in any
        order); `count` (how many chunks, when `chunks` is lazy) keeps small runs from starting idle workers.
        Returns True when cancelled: chunks already started still finish and are passed on."""
        if count == 0:  # nothing to run: no worker to start
            return False
        n = self.workers(workers) if count is None else min(self.workers(workers), count)
        return self._fan_out(ChunkRun(worker_cls, init_args, chunks, on_result, cancel), n)

    def _fan_out(self, run: ChunkRun, n: int) -> bool:
        """`map_chunks` on `n` workers; inline: one worker, in this process."""
        worker = run.worker_cls(*run.init_args)
        try:
            for chunk in run.chunks:
                if run.cancel is not None and run.cancel.is_set():
                    return True
                run.on_result(worker.run(chunk))
            return False
        finally:
            close = getattr(worker, "close", None)
            if close is not None:
                close()

    def predict_proba(self, model: Any, x: np.ndarray) -> np.ndarray:
        """`model.predict_proba(x)` (rows are independent: spread over a cluster, the result is the same)."""
        return np.asarray(model.predict_proba(x), dtype=np.float64)

    @contextlib.contextmanager
    def grid_search(self, n_jobs: int) -> Iterator[int]:
        """The joblib backend a scikit-learn search runs in; yields the n_jobs to give it."""
        yield n_jobs

    def run_task(
        self,
        fn: Callable[..., T],
        *args: Any,
        progress: Callable[..., None] | None = None,
        cancel: threading.Event | None = None,
        on_worker: Callable[[T], T] = lambda result: result,
        **kwargs: Any,
    ) -> T:
        """`fn(*args, progress=..., cancel=..., **kwargs)` as one task (torch training): here, or on a cluster's
        GPU. `on_worker` runs on the result before it leaves the task."""
        return self._run(Task(fn, args, kwargs, progress, cancel, on_worker))

    def _run(self, task: Task[T]) -> T:
        """`run_task`'s task; inline: here, where `on_worker` has nothing to do."""
        return task.fn(*task.args, progress=task.progress, cancel=task.cancel, **task.kwargs)


class LocalExecutor(Executor):
    """Worker processes on this machine (EXTRACT_WORKERS, default one per core); the rest in this process."""

    name = "local"

    def workers(self, requested: int | None = None) -> int:
        return requested or self.settings.extract_workers or max(1, os.cpu_count() or 1)

    def _fan_out(self, run: ChunkRun, n: int) -> bool:
        if n <= 1:  # no process to start for one worker
            return super()._fan_out(run, n)
        from core.executors.local import map_in_processes

        return map_in_processes(
            run.worker_cls, run.init_args, run.chunks, workers=n, on_result=run.on_result, cancel=run.cancel
        )


class RayExecutor(Executor):
    """A Ray cluster (RAY_ADDRESS, or one started in this process)."""

    name = "ray"

    def workers(self, requested: int | None = None) -> int:
        from core.executors.cluster import cluster_cpus

        return requested or self.settings.extract_workers or cluster_cpus(self.settings)

    def _fan_out(self, run: ChunkRun, n: int) -> bool:
        from core.executors.fanout import map_on_actors

        return map_on_actors(
            self.settings,
            run.worker_cls,
            run.init_args,
            run.chunks,
            actors=n,
            on_result=run.on_result,
            cancel=run.cancel,
        )

    def predict_proba(self, model: Any, x: np.ndarray) -> np.ndarray:
        from core.executors.fanout import predict_proba

        return predict_proba(self.settings, model, x)

    @contextlib.contextmanager
    def grid_search(self, n_jobs: int) -> Iterator[int]:
        from core.executors.fanout import ray_grid_search

        with ray_grid_search(self.settings) as jobs:
            yield jobs

    def _run(self, task: Task[T]) -> T:
        from core.executors.fanout import run_task

        return run_task(
            self.settings,
            task.fn,
            *task.args,
            progress=task.progress,
            cancel=task.cancel,
            on_worker=task.on_worker,
            **task.kwargs,
        )


_EXECUTORS: dict[str, type[Executor]] = {"inline": Executor, "local": LocalExecutor, "ray": RayExecutor}


def executor_for(settings: Settings) -> Executor:
    """The executor Settings.executor names (EXECUTOR=inline|local|ray)."""
    return _EXECUTORS[settings.executor](settings)
