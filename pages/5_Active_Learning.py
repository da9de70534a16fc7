"""Active Learning: score the unlabeled pool, ask Gemini for proposals, approve them, retrain, compare strategies."""

from __future__ import annotations

import streamlit as st

from core.active.queue import queue_items
from ui.active_page import (
    audit_ui,
    bulk_ui,
    card_ui,
    labeling_ui,
    pool_ui,
    reviewer_ui,
    rounds_ui,
    scoring_ui,
    simulation_ui,
    undo_ui,
)
from ui.common import get_registry, get_store, page_setup, settings

page_setup("Active learning", icon=":material/school:")
store = get_store()
registry = get_registry()
cfg = settings()

with st.expander("1 · Pool", expanded=False):
    pool_ui(store)
with st.expander("2 · Score and queue", expanded=True):
    scoring_ui(store, registry)
items = queue_items(store)
with st.expander(f"3 · LLM labeling ({len(items)} queued)", expanded=False):
    labeling_ui(store, cfg, len(items))

st.subheader("Review")
actor = reviewer_ui()
if "al_last" in st.session_state:
    st.caption(st.session_state.pop("al_last"))
if not actor:
    st.info("Type your name to review: every decision is recorded with it.")
elif not items:
    st.info("The queue is empty: import images into the pool, extract their landmarks, then score the pool.")
    undo_ui(store, actor)
else:
    card_ui(store, items[0], actor, f"1 of {len(items)} queued")
    undo_ui(store, actor)
    with st.expander("Bulk approve"):
        bulk_ui(store, actor)

with st.expander("Audit log"):
    audit_ui(store)

st.subheader("Rounds")
rounds_ui(store, registry)
st.subheader("Uncertainty vs random (simulation)")
simulation_ui(store)
