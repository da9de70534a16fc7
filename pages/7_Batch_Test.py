"""Batch test: upload images or a zip (labeled by file name or folder, or unlabeled) and test a model on them.

The test runs as a job in a worker (the page stages the uploads and shows the job's progress and result, which
survive a reload). Shares its evaluation with `python -m core evaluate PATH`."""

from __future__ import annotations

import streamlit as st

from core.auth import Permission, allowed
from core.batch_evaluation import BATCH_UPLOADS
from core.jobs import Job
from ui.auth import needs
from ui.batch_page import REFUSED_KEY, outcome_of, show_batch, show_refused, start_batch
from ui.common import get_registry, page_setup, run_safely, settings
from ui.jobs import job_panel, latest_job
from ui.model_select import model_ui, require_model

page_setup("Batch test", icon=":material/fact_check:")

with st.sidebar:
    choice = model_ui(get_registry(), key="bt_model")
model = require_model(choice)

uploads = st.file_uploader(
    "Images or a .zip",
    type=["jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff", "zip"],
    accept_multiple_files=True,
    key="bt_files",
    help="Labels come from the file name (`happy_01.jpg`) or the folder inside a zip (`happy/01.jpg`).",
)
running = latest_job(BATCH_UPLOADS)
busy = running is not None and not running.finished
if not allowed(Permission.EVALUATE):
    needs(Permission.EVALUATE, "Batch test")
elif st.button("Run the test", key="bt_run", type="primary", disabled=not uploads or busy):
    files = [(f.name, f.getvalue()) for f in uploads or []]
    job_id = run_safely(lambda: start_batch(model.card.id, settings(), files), what="The batch test")
    if job_id is not None:
        st.rerun()
refused = st.session_state.get(REFUSED_KEY)
if refused is not None:  # nothing was submitted: say why
    show_refused(refused)
    st.info("None of the uploads held an image to test.")


def show_result(job: Job) -> None:
    outcome = outcome_of(job)
    if outcome.get("model_id") and outcome["model_id"] != model.card.id:
        st.caption(f"These results are from model {outcome['model_id']}; run the test again for the selected model.")
    show_batch(outcome)


if job_panel(BATCH_UPLOADS, show_result, key="bt_job") is None and refused is None:
    st.info(
        "Upload images or a zip, then press **Run the test**. The same evaluation runs from the command line: "
        "`python -m core evaluate FOLDER`."
    )
