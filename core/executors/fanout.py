"""The Ray executor's operations (core.executors.executor.RayExecutor): chunks over a pool of actors (extraction,
evaluation), row blocks of a matrix over tasks (active-learning scoring), joblib's Ray backend (grid searches) and
one task for torch training (a GPU when the cluster has one). Results come back to the driver, which saves them and
reports progress, so writes stay where they were (the store, in batches) and cancelling works as locally."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar, cast

import numpy as np

from core.errors import StudioError
from core.executors.cluster import cluster_has_gpu, connect
from core.settings import Settings

C = TypeVar("C")
R = TypeVar("R")
T = TypeVar("T")
IN_FLIGHT_PER_ACTOR = 2  # one running, one queued at the actor: busy while the driver saves; bounds the tail
SCORE_BLOCK_ROWS = 2048


@contextlib.contextmanager
def worker_errors() -> Iterator[None]:
    """Errors raised on a Ray worker reach the caller as they would locally (a TrainingDataError stays one, with its
    own message rather than Ray's remote traceback); a lost worker or node is a StudioError saying what to do."""
    from ray.exceptions import RayError, RayTaskError

    try:
        yield
    except RayTaskError as exc:
        if isinstance(exc.cause, Exception):
            raise exc.cause from None
        raise StudioError(f"a Ray task failed: {type(exc.cause).__name__}") from None
    except RayError as exc:
        raise StudioError(
            f"a Ray worker was lost ({type(exc).__name__}: a node left the cluster or ran out of memory); the "
            "finished work is kept: run it again to continue"
        ) from exc


def map_on_actors(
    settings: Settings,
    worker_cls: Callable[..., Any],
    init_args: tuple[Any, ...],
    chunks: Iterable[C],
    *,
    actors: int,
    on_result: Callable[[Any], None],
    cancel: threading.Event | None = None,
) -> bool:
    """Run `worker_cls(*init_args).run(chunk)` for every chunk over `actors` Ray actors, calling `on_result` on the
    driver as each finishes (in completion order). Returns True when cancelled: chunks already sent still finish
    and are passed on (their work is done), the rest are never sent.

    Each actor has IN_FLIGHT_PER_ACTOR chunks queued at it, and gets its next one as soon as one of its own returns:
    it starts the queued chunk while the driver saves the result, never idle for a round trip to the driver (with
    one chunk at a time, as `ray.util.ActorPool` sends them, each actor waited a few ms per chunk)."""
    ray = connect(settings)
    remote_cls = ray.remote(num_cpus=1)(worker_cls)
    handles = [remote_cls.remote(*init_args) for _ in range(actors)]
    source: Iterator[C] = iter(chunks)
    owner: dict[Any, Any] = {}  # in-flight result ref -> the actor running it
    done = object()

    def send(handle: Any) -> None:
        if cancel is not None and cancel.is_set():
            return
        chunk = next(source, done)
        if chunk is not done:
            owner[handle.run.remote(chunk)] = handle

    with worker_errors():
        try:
            for _ in range(IN_FLIGHT_PER_ACTOR):  # round-robin: every actor starts at once
                for handle in handles:
                    send(handle)
            while owner:
                [ref], _ = ray.wait(list(owner), num_returns=1)
                handle = owner.pop(ref)
                on_result(ray.get(ref))
                send(handle)
            return cancel is not None and cancel.is_set()
        finally:
            for handle in handles:  # the actors hold landmarkers or models: free their CPUs for the next job
                ray.kill(handle)


def predict_proba(settings: Settings, model: Any, x: np.ndarray) -> np.ndarray:
    """`model.predict_proba(x)` in row blocks over Ray tasks (the model is shipped once through the object store).
    Rows are independent, so the result is the same; a small matrix is not worth shipping."""
    if len(x) <= SCORE_BLOCK_ROWS:
        return np.asarray(model.predict_proba(x), dtype=np.float64)
    ray = connect(settings)
    model_ref = ray.put(model)
    blocks = [x[i : i + SCORE_BLOCK_ROWS] for i in range(0, len(x), SCORE_BLOCK_ROWS)]
    refs = [_remote_predict(ray).remote(model_ref, block) for block in blocks]
    with worker_errors():
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in ray.get(refs)])


def _predict_block(model: Any, block: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict_proba(block))


def _remote_predict(ray: Any) -> Any:
    return ray.remote(num_cpus=1)(_predict_block)


@contextlib.contextmanager
def ray_grid_search(settings: Settings) -> Iterator[int]:
    """joblib's Ray backend: scikit-learn's candidates x folds spread over the cluster (n_jobs=-1: every CPU)."""
    connect(settings)
    import joblib
    from ray.util.joblib import register_ray

    register_ray()
    with joblib.parallel_backend("ray"):
        yield -1


POLL_S = 0.25  # how often the driver relays progress and cancel while a remote task runs
CANCEL_CHECK_S = 0.5  # how often a remote task asks whether it was cancelled (it checks once per batch)


class _Channel:
    """A tiny Ray actor between a remote task and the driver: progress events one way, the cancel flag the other."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.cancelled = False

    def report(self, event: tuple[Any, ...]) -> None:
        self.events.append(event)

    def drain(self) -> list[tuple[Any, ...]]:
        events, self.events = self.events, []
        return events

    def cancel(self) -> None:
        self.cancelled = True

    def is_cancelled(self) -> bool:
        return self.cancelled


class _RemoteCancel:
    """`threading.Event`'s is_set() inside a remote task, asking the channel at most every CANCEL_CHECK_S."""

    def __init__(self, ray: Any, channel: Any) -> None:
        self._ray, self._channel = ray, channel
        self._checked, self._set = 0.0, False

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self._set and now - self._checked >= CANCEL_CHECK_S:
            self._checked = now
            self._set = bool(self._ray.get(self._channel.is_cancelled.remote()))
        return self._set


def _run_with_channel(
    fn: Callable[..., T], channel: Any, args: tuple[Any, ...], kwargs: dict[str, Any], on_worker: Callable[[T], T]
) -> T:
    import ray

    def progress(*event: Any) -> None:
        channel.report.remote(event)  # fire and forget: training never waits for the driver

    result = on_worker(fn(*args, progress=progress, cancel=_RemoteCancel(ray, channel), **kwargs))
    ray.get(channel.is_cancelled.remote())  # calls from one caller run in order: every event is in before we return
    return result


def _task_resources(ray: Any, settings: Settings) -> dict[str, Any]:
    """One GPU when the cluster has one; else every CPU of the largest node (torch's threads use them)."""
    if cluster_has_gpu(settings):
        return {"num_gpus": 1, "num_cpus": 1}
    node_cpus = [float(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
    return {"num_cpus": max(1, int(max(node_cpus, default=1)))}


class _HasNet(Protocol):
    net: Any  # a torch module


N = TypeVar("N", bound=_HasNet)


def net_to_cpu(result: N) -> N:
    """`on_worker` for torch training results: the network leaves the task on the CPU (the caller may have no GPU)."""
    result.net.to("cpu")
    return result


def run_task(
    settings: Settings,
    fn: Callable[..., T],
    *args: Any,
    progress: Callable[..., None] | None = None,
    cancel: threading.Event | None = None,
    on_worker: Callable[[T], T] = lambda result: result,
    **kwargs: Any,
) -> T:
    """`fn(*args, progress=..., cancel=..., **kwargs)` as one Ray task that asks for a GPU when the cluster has one
    (torch training), else for the CPUs of a node. Progress events are relayed to `progress` here as they arrive
    and `cancel` is passed on, so both work as they do inline. `on_worker` runs on the result before it leaves the
    task (e.g. to move a network off the GPU)."""
    ray = connect(settings)
    channel = ray.remote(num_cpus=0)(_Channel).remote()
    task = ray.remote(_run_with_channel).options(**_task_resources(ray, settings))
    ref = task.remote(fn, channel, args, kwargs, on_worker)
    with worker_errors():
        try:
            while True:
                ready, _ = ray.wait([ref], timeout=POLL_S)
                if cancel is not None and cancel.is_set():
                    channel.cancel.remote()
                events = ray.get(channel.drain.remote())
                if progress is not None:
                    for event in events:
                        progress(*event)
                if ready:
                    return cast(T, ray.get(ref))
        finally:
            ray.kill(channel)
