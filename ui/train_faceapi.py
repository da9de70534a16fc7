"""Train page, image tab: fine-tuning face-api's expression network (a job, like the ResNet-50 training), and the
table of backbones with their weights' source, licence and whether they start pretrained."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.backbones import list_backbones
from core.faceapi_torch.kinds import FACEAPI_FINETUNING, FineTuneParams
from core.schema import EMOTIONS, EXTRACTION_OK, SOURCES, TRAINABLE_STATUSES
from core.store.repository import Filters
from ui.common import get_store, settings
from ui.jobs import job_panel, latest_job, submit
from ui.train_torch import _devices, _trained_model

JOB = "torch_job_faceapi"
LOSSES = ("train_loss",)
METRICS = ("val_accuracy", "val_macro_f1")
MODES = {
    "last": "Last block and head (default)",
    "head": "Head only (fastest)",
    "all": "All layers, low learning rate",
}


def backbones_table() -> None:
    rows = [
        {
            "backbone": b.name,
            "pretrained": "yes" if b.pretrained else "no: random init",
            "weights": b.source,
            "licence": b.licence,
            "note": b.note,
        }
        for b in list_backbones(settings())
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="image_backbones")


def faceapi_section() -> None:
    store = get_store()
    st.caption(
        "Starts from face-api's expression network itself (pretrained on faces and expressions), cut at its own "
        "framing around the MediaPipe box. Epoch 0 is the network alone: it is kept when no epoch beats it on the "
        "validation persons."
    )
    c1, c2 = st.columns(2)
    emotions = c1.multiselect("Emotions (empty: all)", list(EMOTIONS), key="faceapi_emotions")
    sources = c2.multiselect("Sources (empty: all)", list(SOURCES), key="faceapi_sources")
    filters = Filters(emotions=emotions, sources=sources, statuses=list(TRAINABLE_STATUSES),
                      extraction_states=[EXTRACTION_OK], labeled_only=True)  # fmt: skip
    available = store.count(filters)
    if available == 0:
        st.info("No labeled faces with landmarks match. Import and extract images on the **Data** page first.")
        return
    st.caption(f"{available} labeled faces with a landmark box.")
    c1, c2, c3, c4 = st.columns(4)
    mode = c1.selectbox(
        "Layers trained",
        list(MODES),
        index=list(MODES).index(FineTuneParams().mode),
        format_func=MODES.__getitem__,
        key="faceapi_mode",
    )
    default = FineTuneParams()  # the form's defaults are the job's own
    epochs = c2.number_input("Epochs", 1, 100, default.epochs, key="faceapi_epochs")
    batch = c3.number_input("Batch size", 1, 256, default.batch_size, key="faceapi_batch")
    device = c4.selectbox("Device", _devices(), key="faceapi_device")
    flip = st.checkbox("Mirror crops in augmentation (the network is not flip-invariant)", key="faceapi_flip")
    params = FineTuneParams(mode=mode, epochs=int(epochs), batch_size=int(batch), device=str(device), flip=flip,
                            emotions=emotions, sources=sources)  # fmt: skip
    running = (job := latest_job(FACEAPI_FINETUNING)) is not None and not job.finished
    if st.button("Fine-tune face-api's network", key="faceapi_start", type="primary", disabled=running) and submit(
        FACEAPI_FINETUNING, params
    ):
        st.rerun()
    job_panel(FACEAPI_FINETUNING, _trained_model(JOB, "face-api fine-tuned", LOSSES, METRICS), key=JOB)
