"""Jobs: the workers and their lanes, and recent jobs of everyone (kind, lane, status, owner, worker, duration,
progress, error), with Cancel for the permitted."""

from __future__ import annotations

import streamlit as st

from core.auth import may_act_for
from core.jobs import all_kinds
from core.store.tables import utcnow
from ui.auth import fragment
from ui.common import page_setup, run_safely
from ui.jobs import REFRESH_S, ensure_worker_note, get_queue

page_setup("Jobs", icon=":material/work_history:")
KINDS = all_kinds()
st.caption(
    "Long work (extraction, training, generation, labeling, scoring, evaluation) runs in job workers, not in the "
    "dashboard: a job survives closing the tab and restarting the web server. Short jobs (tests, scoring, "
    "comparisons, imports) have a lane of their own, so they never wait behind long ones. `python -m core jobs list` "
    "shows the same from a shell."
)
ensure_worker_note()


def lane_of(kind: str) -> str:
    return KINDS[kind].lane if kind in KINDS else ""  # a kind this version no longer has


def workers_table() -> None:
    queue = get_queue()
    workers = queue.workers()
    jobs = queue.recent(statuses=("queued", "running"), limit=1000)
    lanes = {
        lane: {
            "lane": lane,
            "queued": sum(1 for j in jobs if j.status == "queued" and lane_of(j.kind) == lane),
            "running": sum(1 for j in jobs if j.status == "running" and lane_of(j.kind) == lane),
        }
        for lane in ("short", "long")
    }
    st.dataframe(list(lanes.values()), hide_index=True, key="jobs_lanes")
    if not workers:
        st.caption("No worker is on record.")
        return
    now = utcnow()
    st.dataframe(
        [
            {
                "worker": w.id,
                "host": w.host,
                "pid": w.pid,
                "state": "alive" if w.alive else "dead (no heartbeat: its jobs go back to the queue)",
                "last seen (s ago)": round((now - w.heartbeat_at).total_seconds(), 1),
                "running jobs": ", ".join(str(i) for i in w.jobs),
                "kinds": w.kinds or "all",
            }
            for w in workers
        ],
        hide_index=True,
        key="jobs_workers",
    )


def jobs_table() -> None:
    jobs = get_queue().recent(limit=100)
    if not jobs:
        st.info("No jobs yet.")
        return
    st.dataframe(
        [
            {
                "id": j.id,
                "kind": KINDS[j.kind].title if j.kind in KINDS else j.kind,
                "lane": lane_of(j.kind),
                "status": j.status,
                "owner": j.started_by,
                "worker": j.worker_id or "",
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
            format_func=lambda i: next(
                f"{i}: {KINDS[j.kind].title if j.kind in KINDS else j.kind} ({j.status})" for j in active if j.id == i
            ),
            key="jobs_cancel_choice",
        )
        if cols[1].button("Cancel job", key="jobs_cancel"):
            run_safely(lambda: get_queue().request_cancel(choice), what="Cancel")


st.subheader("Workers and lanes")
fragment(workers_table, run_every=REFRESH_S * 2)()
st.subheader("Jobs")
fragment(jobs_table, run_every=REFRESH_S * 2)()
