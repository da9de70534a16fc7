"""Jobs: recent jobs of everyone (kind, status, owner, duration, progress, error), with Cancel for the permitted."""

from __future__ import annotations

import streamlit as st

from core.auth import may_act_for
from core.jobs import all_kinds
from ui.auth import fragment
from ui.common import page_setup, run_safely
from ui.jobs import REFRESH_S, ensure_worker_note, get_queue

page_setup("Jobs", icon=":material/work_history:")
TITLES = {name: kind.title for name, kind in all_kinds().items()}
st.caption(
    "Long work (extraction, training, generation, labeling, scoring, evaluation) runs in job workers, not in the "
    "dashboard: a job survives closing the tab and restarting the web server. `python -m core jobs list` shows the "
    "same from a shell."
)
ensure_worker_note()


def jobs_table() -> None:
    jobs = get_queue().recent(limit=100)
    if not jobs:
        st.info("No jobs yet.")
        return
    st.dataframe(
        [
            {
                "id": j.id,
                "kind": TITLES.get(j.kind, j.kind),
                "status": j.status,
                "owner": j.started_by,
                "created": j.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                "duration (s)": None if j.duration_s is None else round(j.duration_s, 1),
                "progress": f"{j.done}/{j.total}" if j.total else "",
                "message": j.message,
                "error": j.error,
            }
            for j in jobs
        ],
        hide_index=True,
        key="jobs_table",
    )
    active = [j for j in jobs if not j.finished and may_act_for(j.started_by or None)]
    if active:
        cols = st.columns([3, 1])
        choice = cols[0].selectbox(
            "Cancel a job",
            [j.id for j in active],
            format_func=lambda i: next(f"{i}: {TITLES.get(j.kind, j.kind)} ({j.status})" for j in active if j.id == i),
            key="jobs_cancel_choice",
        )
        if cols[1].button("Cancel job", key="jobs_cancel"):
            run_safely(lambda: get_queue().request_cancel(choice), what="Cancel")


fragment(jobs_table, run_every=REFRESH_S * 2)()
