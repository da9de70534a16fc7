"""Live: webcam expression detection in the browser (streamlit-webrtc), with artwork per detected emotion."""

from __future__ import annotations

import streamlit as st

from core.auth import Permission, allowed
from ui.auth import fragment, needs
from ui.common import get_registry, get_store, page_setup, settings
from ui.live_page import options_ui, session_processor, show_result, snapshot_ui, stream
from ui.model_select import FOLLOW_EVERY_S, follow_active, model_ui, require_model

page_setup("Live", icon=":material/videocam:")
cfg = settings()

with st.sidebar:
    choice = model_ui(get_registry(), key="live_model")
    smoothing, mesh = options_ui()

model = require_model(choice)
processor = session_processor(model, cfg, smoothing, mesh)

video_col, result_col = st.columns([3, 2])
with video_col:
    stream(processor, cfg)
    st.caption("Frames are analysed on the server and not stored unless you save a snapshot.")
with result_col:
    fragment(show_result, run_every=0.5)(processor)
if choice is not None and choice.follows_active:
    fragment(follow_active, run_every=FOLLOW_EVERY_S)(processor)

st.divider()
if allowed(Permission.SAVE_SNAPSHOT):
    snapshot_ui(get_store(), processor)
else:
    needs(Permission.SAVE_SNAPSHOT, "Saving snapshots")
