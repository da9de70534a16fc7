"""Local worker processes for the `local` executor: a process pool whose workers each build their heavy state once
(a landmarker, a model) and outlive nothing (they die with the process that started them, even on `kill -9`)."""

from __future__ import annotations

import ctypes
import multiprocessing as mp_ctx
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_CHECK_S = 1.0
IN_FLIGHT_PER_WORKER = 3  # keeps every worker busy while this process saves; bounds memory

_instance: Any = None  # this pool worker's `worker_cls(*init_args)`, built once by the initializer


def die_with_parent() -> None:
    """Make this process exit when the process that started it dies, even by SIGKILL (which runs no cleanup):
    otherwise it stays blocked on a pipe write forever, holding a landmarker. Linux delivers SIGKILL on the
    parent's death (prctl PR_SET_PDEATHSIG); a thread watching the parent's pid covers other systems and the
    moment before prctl took effect."""
    parent_pid = os.getppid()  # under forkserver, the fork server (which dies with its own parent: forkserver_guard)
    kill_me_with_parent()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    if parent_pid == 1:  # the parent died before this worker got here: adopted by init
        os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def kill_me_with_parent() -> None:
    """Ask Linux for SIGKILL when this process's parent (the thread that started it) dies; elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _init(worker_cls: Callable[..., Any], init_args: tuple[Any, ...]) -> None:
    global _instance
    die_with_parent()
    _instance = worker_cls(*init_args)


def _run(chunk: Any) -> Any:
    assert _instance is not None, "the pool initializer did not run"
    return _instance.run(chunk)


def pool_context(preload: str) -> mp_ctx.context.BaseContext:
    """How to start workers. A plain fork starts them in milliseconds, but is only safe while this process runs a
    single thread (no other thread can hold a lock at fork time): the CLI and scripts. Under Streamlit, a job
    runner or a server, a forkserver starts them from a clean process that has `preload` (the worker class's
    module) imported once."""
    if threading.active_count() == 1:
        return mp_ctx.get_context("fork")
    ctx = mp_ctx.get_context("forkserver")
    # The worker class's module, not only its heavy imports: a pool worker unpickles `_init`'s arguments from it,
    # and importing it per pool (the store, SQLAlchemy) cost each extraction job ~0.6 s of start-up.
    # The guard first: the fork server must die with the process that started it (see core.executors.forkserver_guard).
    ctx.set_forkserver_preload(["core.executors.forkserver_guard", preload])
    return ctx


@contextmanager
def main_script_hidden() -> Iterator[None]:
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


def map_in_processes(
    worker_cls: Callable[..., Any],
    init_args: tuple[Any, ...],
    chunks: Iterable[Any],
    *,
    workers: int,
    on_result: Callable[[Any], None],
    cancel: threading.Event | None,
) -> bool:
    """`worker_cls(*init_args).run(chunk)` for every chunk over `workers` processes, `on_result` here as each
    finishes. Returns True when cancelled: chunks already sent still finish and are passed on."""
    ctx = pool_context(worker_cls.__module__)
    pending: set[Future[Any]] = set()
    source = iter(chunks)
    cancelled = False
    with (
        main_script_hidden(),
        ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=(worker_cls, init_args)) as pool,
    ):
        exhausted = False
        while True:
            cancelled = cancelled or (cancel is not None and cancel.is_set())
            while not cancelled and not exhausted and len(pending) < IN_FLIGHT_PER_WORKER * workers:
                chunk = next(source, None)
                if chunk is None:
                    exhausted = True
                    break
                pending.add(pool.submit(_run, chunk))
            if cancelled:  # chunks not started yet are dropped (their work stays pending for the next run)
                pending = {f for f in pending if not f.cancel()}
            if not pending:
                return cancelled
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                on_result(future.result())
