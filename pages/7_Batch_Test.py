"""Batch test: upload images or a zip (labeled by file name or folder, or unlabeled) and test a model on them.

Shares its evaluation with `python -m core evaluate PATH`."""

from __future__ import annotations

import streamlit as st

from ui.batch_page import RESULT_KEY, run_batch, show_batch
from ui.common import get_registry, page_setup, run_safely, settings
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
if st.button("Run the test", key="bt_run", type="primary", disabled=not uploads):
    files = [(f.name, f.getvalue()) for f in uploads or []]
    outcome = run_safely(lambda: run_batch(model, settings(), files), what="The batch test")
    if outcome is not None:
        st.session_state[RESULT_KEY] = outcome

outcome = st.session_state.get(RESULT_KEY)
if outcome is None:
    st.info(
        "Upload images or a zip, then press **Run the test**. The same evaluation runs from the command line: "
        "`python -m core evaluate FOLDER`."
    )
    st.stop()
if outcome.get("model_id") and outcome["model_id"] != model.card.id:
    st.caption(f"These results are from model {outcome['model_id']}; run the test again for the selected model.")
show_batch(outcome)
