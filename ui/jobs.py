"""Job panels for the pages: submit a job, then show its live progress, a Cancel button and the result.

The page never runs the work: a worker process does (see core.jobs). The panel finds the user's latest job of the
kind in the database on every load, so closing the tab or restarting the web server loses nothing.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

import streamlit as st
from pydantic import BaseModel

from core.auth import current_user, may_act_for
from core.jobs import Job, JobQueue, get_kind
from core.jobs.local import ensure_local_worker
from core.jobs.worker import start_here
from core.landmarks.kinds import ExtractionResult
from ui.auth import fragment
from ui.common import get_store, run_safely

REFRESH_S = 1.0


def get_queue() -> JobQueue:
    return JobQueue(get_store().settings)


def latest_job(kind: str) -> Job | None:
    """The signed-in user's newest job of this kind (what the page shows again after a reload)."""
    user = current_user()
    return None if user is None else get_queue().latest(kind, user.id)


def submit(kind: str, params: BaseModel | dict[str, Any]) -> int | None:
    """Queue a job as the signed-in user and make sure a worker will run it."""
    job_id = run_safely(lambda: get_queue().submit(kind, params), what=f"Starting {get_kind(kind).title.lower()}")
    if job_id is not None:
        run_safely(lambda: ensure_local_worker(get_store().settings), what="Starting a job worker")
    return job_id


def ensure_worker_note() -> None:
    """Start the dashboard's worker if none is alive (local set-up), else say when no worker is running."""
    queue = get_queue()
    if queue.live_workers():
        return
    if queue.settings.start_worker:
        run_safely(lambda: ensure_local_worker(queue.settings), what="Starting a job worker")
    else:
        st.warning("No job worker is running: queued jobs wait until one starts (`python -m core worker`).")


def run_here(kind: str, params: BaseModel | dict[str, Any], secrets: dict[str, str]) -> int | None:
    """Execute a job in this process (a thread), for what must not reach the database or another process: a Gemini
    key typed into the page for this session. It is still a job row (progress, Cancel, the Jobs page), executed by
    the same code as a worker's runner; if the server restarts, a worker picks it up again and, lacking the key,
    fails it with a message saying so."""
    started = run_safely(
        lambda: start_here(get_queue(), kind, params, where="dashboard"),
        what=f"Starting {get_kind(kind).title.lower()}",
    )
    if started is None:
        return None
    worker, job = started
    # The thread acts as the user who started it (a copy of this run's context carries the identity).
    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(worker.execute, job), kwargs={"secrets": secrets}, daemon=True, name=f"job-{job.id}"
    )
    thread.start()
    return job.id


def describe(job: Job) -> str:
    progress = f" {job.done}/{job.total}" if job.total else ""
    return f"Job {job.id} · {job.status}{progress}" + (f" · {job.message}" if job.message else "")


def extraction_result(job: Job) -> None:
    """How a finished extraction job shows (the Data page and the Active-learning pool run the same job)."""
    result = job.result_as(ExtractionResult) or ExtractionResult()
    st.caption(
        f"{result.processed} processed: {result.ok} faces, {result.no_face} without a face, {result.errors} errors."
    )


def job_panel(
    kind: str,
    render_result: Callable[[Job], None] | None = None,
    *,
    key: str,
    while_running: Callable[[Job], None] | None = None,
) -> Job | None:
    """The user's latest job of `kind`: progress while it runs (refreshed without blocking the page, with
    `while_running(job)` below it, e.g. a learning curve so far), Cancel, and the error or `render_result(job)` once
    finished. Returns that job."""
    job = latest_job(kind)
    if job is None:
        return None
    if not job.finished:
        ensure_worker_note()  # e.g. its worker was killed: start another, which requeues and resumes the job

    def body() -> None:
        current = get_queue().get(job.id)
        if not current.finished:
            st.progress(current.fraction, text=describe(current))
            st.caption(get_queue().where(current))
            if may_act_for(current.started_by or None) and st.button(
                "Cancel", key=f"{key}_cancel_{current.id}", disabled=current.cancel_requested
            ):
                run_safely(lambda: get_queue().request_cancel(current.id), what="Cancel")
            if while_running is not None:
                while_running(current)
            return
        if not job.finished:
            # It just finished: rerun the page so everything else on it shows the new state.
            st.rerun(scope="app")
        if current.status == "done":
            st.success(describe(current))
            if render_result is not None:
                render_result(current)
        elif current.status == "failed":
            st.error(f"Job {current.id} failed: {current.error}")
        else:
            st.warning(describe(current))
            if render_result is not None and current.result:
                render_result(current)

    fragment(body, run_every=None if job.finished else REFRESH_S)()
    return job
