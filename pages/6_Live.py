"""Live: webcam expression detection in the browser (streamlit-webrtc), with artwork per detected emotion."""

from __future__ import annotations

import streamlit as st

from core.registry import STARTER_ID
from ui.common import get_registry, get_store, page_setup, run_safely, settings
from ui.live_page import load_model, model_ui, options_ui, session_processor, show_result, snapshot_ui, stream

page_setup("Live", icon=":material/videocam:")
cfg = settings()
registry = get_registry()

with st.sidebar:
    choice = model_ui(registry)
    smoothing, mesh = options_ui()

if choice is None:
    st.info("No expression model yet: train one on the **Train** page (or ship `models/starter/`).")
    st.stop()
if choice.card.id == STARTER_ID:
    st.info("Using the shipped **starter model**: no trained model is active yet. Train one on the **Train** page.")

model = run_safely(lambda: load_model(str(cfg.models_dir), choice.card.id), what=f"Loading model {choice.card.id}")
if model is None:
    st.stop()
processor = session_processor(model, cfg, smoothing, mesh)

video_col, result_col = st.columns([3, 2])
with video_col:
    stream(processor, cfg)
    st.caption("Frames are analysed on the server and not stored unless you save a snapshot.")
with result_col:
    st.fragment(show_result, run_every=0.5)(processor)

st.divider()
snapshot_ui(get_store(), processor)
