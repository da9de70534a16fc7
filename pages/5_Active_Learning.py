"""Active Learning: score the unlabeled pool, ask Gemini for proposals, approve them, retrain, compare strategies."""

from __future__ import annotations

import streamlit as st

from core.active_learning.review_queue import queue_items
from core.auth import Permission, allowed
from ui.active_learning_page import (
    audit_ui,
    bulk_ui,
    card_ui,
    labeling_ui,
    pool_ui,
    rounds_ui,
    scoring_ui,
    simulation_ui,
    undo_for_others_ui,
    undo_ui,
)
from ui.auth import needs, signed_in_user
from ui.common import get_registry, get_store, page_setup, settings

page_setup("Active learning", icon=":material/school:")
store = get_store()
registry = get_registry()
cfg = settings()
user = signed_in_user(sidebar=False)

with st.expander("1 · Pool", expanded=False):
    if allowed(Permission.IMPORT):
        pool_ui(store)
    else:
        needs(Permission.IMPORT, "Adding images to the pool")
with st.expander("2 · Score and queue", expanded=True):
    if allowed(Permission.TRAIN):
        scoring_ui(store, registry)
    else:
        needs(Permission.TRAIN, "Scoring the pool")
items = queue_items(store)
with st.expander(f"3 · LLM labeling ({len(items)} queued)", expanded=False):
    if allowed(Permission.LLM_LABEL):
        labeling_ui(store, cfg, len(items))
    else:
        needs(Permission.LLM_LABEL, "Labeling")

st.subheader("Review")
if "al_last" in st.session_state:
    st.caption(st.session_state.pop("al_last"))
if not allowed(Permission.REVIEW):
    needs(Permission.REVIEW, "Reviewing the queue")
    st.caption(f"{len(items)} images are queued for review.")
elif not items:
    st.info("The queue is empty: import images into the pool, extract their landmarks, then score the pool.")
    undo_ui(store, user.id)
else:
    st.caption(f"Decisions are recorded as **{user.id}**.")
    card_ui(store, items[0], f"1 of {len(items)} queued")
    undo_ui(store, user.id)
    with st.expander("Bulk approve"):
        bulk_ui(store)

with st.expander("Audit log"):
    audit_ui(store)
    if allowed(Permission.ACT_FOR_OTHERS):
        undo_for_others_ui(store, user.id)

st.subheader("Rounds")
rounds_ui(store, registry)
st.subheader("Uncertainty vs random (simulation)")
simulation_ui(store)
