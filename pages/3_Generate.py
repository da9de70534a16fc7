"""Generate: labeled synthetic portraits with Gemini from a template. Runs resume and survive a closed tab."""

from __future__ import annotations

import streamlit as st

from core.auth import Permission, allowed, may_act_for
from core.generation.jobs import JobStore
from core.schema import GEN_FAILED
from ui.auth import fragment, needs
from ui.common import get_store, page_setup, run_safely, settings
from ui.generate_page import active_run, api_key_ui, job_picker, preview_ui, progress_ui, start_run, template_ui
from ui.jobs import get_queue

page_setup("Generate", icon=":material/auto_awesome:")
cfg = settings()
store = get_store()
jobs = JobStore(store)
may_generate = allowed(Permission.GENERATE)
api_key = api_key_ui(cfg) if may_generate else None
if not may_generate:
    needs(Permission.GENERATE, "Starting generation")
extract = st.checkbox("Extract landmarks of new images when a run ends", value=True, key="gen_extract")

st.subheader("Template")
template = template_ui(cfg)
if template is not None:
    model = template.model or cfg.gemini_image_model
    preview_ui(template, model)
    if may_generate and st.button("Start", type="primary", key="gen_start", disabled=api_key is None):
        chosen, key = template, api_key or ""
        new_id = run_safely(lambda: jobs.create_job(chosen, model=model), what="Creating the job")
        if new_id is not None and key:
            st.session_state["gen_job"] = new_id  # show the new (or resumed) job below
            created: int = new_id
            run_safely(lambda: start_run(created, cfg, key, extract=extract), what="Start")

st.subheader("Jobs")
job = job_picker(jobs)
if job is None:
    st.info("No generation job yet: fill in the template and press Start.")
    st.stop()

gen_id = job.id
run = active_run(gen_id)
running = run is not None
# Cancel stops the run: whoever started that run (maybe not who created the generation job) or an admin may; core
# checks it again.
may_cancel = may_act_for((run.started_by if run is not None else job.started_by) or None)


def start(key: str) -> bool:
    return run_safely(lambda: start_run(gen_id, cfg, key, extract=extract), what="Start") is not None


def cancel() -> None:
    current = active_run(gen_id)
    if current is not None:
        get_queue().request_cancel(current.id)


c1, c2, c3 = st.columns(3)
if may_generate:
    if c1.button("Resume", key="gen_resume", disabled=running or api_key is None or job.finished) and api_key:
        running = start(api_key)
    failed = not job.counts[GEN_FAILED]
    retry = c3.button("Retry failed", key="gen_retry", disabled=running or api_key is None or failed)
    if retry and api_key and run_safely(lambda: jobs.retry_failed(gen_id), what="Retry") is not None:
        running = start(api_key)
if may_cancel and c2.button("Cancel", key="gen_cancel", disabled=not running):
    run_safely(cancel, what="Cancel")


# NOTE: the fragment polls the database once a second while a run is going; when the run ends it reruns the
# whole page once so that the buttons match the new state.
def live(job_id: int, was_running: bool) -> None:
    progress_ui(jobs, job_id)
    if was_running and active_run(job_id) is None:
        st.rerun()


fragment(live, run_every=1.0 if running else None)(gen_id, running)
