"""Generate: labeled synthetic portraits with Gemini from a template. Runs resume and survive a closed tab."""

from __future__ import annotations

import streamlit as st

from core.auth import Permission, allowed, may_act_for
from core.generation.jobs import JobStore
from core.schema import GEN_FAILED
from ui.auth import needs
from ui.common import get_store, page_setup, run_safely, settings
from ui.generate_page import api_key_ui, job_manager, job_picker, preview_ui, progress_ui, template_ui

page_setup("Generate", icon=":material/auto_awesome:")
cfg = settings()
store = get_store()
jobs = JobStore(store)
manager = job_manager()
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
        job_id = run_safely(lambda: jobs.create_job(template, model=model), what="Creating the job")
        if job_id is not None and api_key is not None:
            st.session_state["gen_job"] = job_id  # show the new (or resumed) job below
            manager.start(job_id, store, cfg, api_key, extract=extract)

st.subheader("Jobs")
job = job_picker(jobs)
if job is None:
    st.info("No generation job yet: fill in the template and press Start.")
    st.stop()

running = manager.running(job.id)
may_cancel = may_act_for(job.started_by or None)  # the job's starter or an admin (core checks it again)
c1, c2, c3 = st.columns(3)
if may_generate:
    if c1.button("Resume", key="gen_resume", disabled=running or api_key is None or job.finished) and api_key:
        running = bool(run_safely(lambda: manager.start(job.id, store, cfg, api_key, extract=extract), what="Resume"))
    failed = not job.counts[GEN_FAILED]
    retry = c3.button("Retry failed", key="gen_retry", disabled=running or api_key is None or failed)
    if retry and api_key and run_safely(lambda: jobs.retry_failed(job.id), what="Retry") is not None:
        running = bool(manager.start(job.id, store, cfg, api_key, extract=extract))
if may_cancel and c2.button("Cancel", key="gen_cancel", disabled=not running):
    run_safely(lambda: manager.cancel(jobs, job.id), what="Cancel")


# NOTE: the fragment polls the database once a second while a run is going; when the run ends it reruns the
# whole page once so that the buttons match the new state.
@st.fragment(run_every=1.0 if running else None)
def live(job_id: int, was_running: bool) -> None:
    progress_ui(jobs, job_id, manager)
    if was_running and not manager.running(job_id):
        st.rerun()


live(job.id, running)
