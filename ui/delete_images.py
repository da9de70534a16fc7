"""The Data page's "Delete images" section (admins): choose images by filters, the problem list or ids, preview
them, confirm by typing their count, delete, and show what happened. `core` checks the role again."""

from __future__ import annotations

import re

import streamlit as st

from core.schema import EMOTIONS, EXTRACTION_PENDING, EXTRACTION_STATES, SOURCES, STATUSES
from core.store import Store
from core.store.deletion import DeleteReport
from core.store.repository import Filters
from core.store.views import PROBLEM_STATES, record_row
from ui.common import run_safely, state

BY_FILTERS, BY_PROBLEMS, BY_IDS = "Filters", "Problem images (no usable landmarks)", "Image ids"
PREVIEW_ROWS = 50
_REPORT = "delete_report"  # the last deletion's report, shown after the rerun that refreshes the page
_ROUND = "delete_round"  # bumped after each deletion, so the confirmation field starts empty again


def parse_ids(text: str) -> list[int]:
    """Ids typed as `1, 2 3`; a token that is not a whole number is refused with its text."""
    tokens = [t for t in re.split(r"[\s,;]+", text.strip()) if t]
    bad = [t for t in tokens if not t.isdigit()]
    if bad:
        raise ValueError(f"not image ids: {', '.join(bad[:5])}")
    return [int(t) for t in tokens]


def _chosen(store: Store) -> list[int] | None:
    """The ids the admin's choice selects, or None (with a message) while the choice is incomplete."""
    how = st.radio("Choose images by", [BY_FILTERS, BY_PROBLEMS, BY_IDS], horizontal=True, key="delete_by")
    if how == BY_PROBLEMS:
        return store.image_ids(Filters(extraction_states=PROBLEM_STATES))
    if how == BY_IDS:
        text = st.text_input("Image ids", key="delete_ids", placeholder="e.g. 12, 13 40")
        try:
            ids = parse_ids(text)
        except ValueError as exc:
            st.error(str(exc))
            return None
        return store.image_ids(ids=ids) if ids else None
    c1, c2, c3, c4 = st.columns(4)
    filters = Filters(
        sources=c1.multiselect("Source", SOURCES, key="delete_source"),
        statuses=c2.multiselect("Status", STATUSES, key="delete_status"),
        emotions=c3.multiselect("Label", EMOTIONS, key="delete_label"),
        extraction_states=c4.multiselect(
            "Landmarks", [*EXTRACTION_STATES, EXTRACTION_PENDING], key="delete_extraction"
        ),
    )
    if not (filters.sources or filters.statuses or filters.emotions or filters.extraction_states):
        st.caption("Choose at least one filter (images matching all of them are selected).")
        return None
    return store.image_ids(filters)


def _preview(store: Store, ids: list[int]) -> None:
    records = (store.get(image_id) for image_id in ids[:PREVIEW_ROWS])
    st.dataframe([record_row(r) for r in records if r is not None], hide_index=True, key="delete_preview")
    if len(ids) > PREVIEW_ROWS:
        st.caption(f"The first {PREVIEW_ROWS} of {len(ids)} shown.")


def _show_report(report: DeleteReport) -> None:
    st.success(f"Deleted: {report.summary()}. Each deletion is in the audit log under your name.")
    if report.files_not_removed:
        st.warning("These files could not be removed (the images are gone; the files are listed as orphans later):")
        st.dataframe(
            [{"file": p, "why": why} for p, why in report.files_not_removed], hide_index=True, key="delete_stuck"
        )


def delete_section(store: Store) -> None:
    """The section itself; the page shows it to admins only."""
    report = st.session_state.pop(_REPORT, None)
    if report is not None:
        _show_report(report)
    ids = _chosen(store)
    if ids is None:
        return
    if not ids:
        st.info("No image matches.")
        return
    st.markdown(f"**{len(ids)} image(s)** match. Deleting removes their landmarks, queue entries and files for good.")
    _preview(store, ids)
    confirm = st.text_input(
        f"Type {len(ids)} to confirm", key=f"delete_confirm_{state(_ROUND, 0)}", placeholder=str(len(ids))
    )
    if st.button(
        f"Delete {len(ids)} images", key="delete_run", type="primary", disabled=confirm.strip() != str(len(ids))
    ):
        done = run_safely(lambda: store.delete_images(ids), what="Deleting")
        if done is not None:
            st.session_state[_REPORT] = done
            st.session_state[_ROUND] += 1
            st.rerun()
