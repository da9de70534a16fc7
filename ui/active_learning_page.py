"""Widgets of the Active Learning page: pool, scoring, LLM labeling, approval cards, bulk approve, rounds and the
simulation. Each `*_ui` function draws one section and calls `core.active_learning`; no logic lives here."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import streamlit as st

from core.active_learning import approval, pool, rounds
from core.active_learning.diversity import DEFAULT_MIN_DISTANCE
from core.active_learning.kinds import (
    AL_POOL,
    AL_ROUND,
    AL_SCORING,
    AL_SIMULATION,
    LLM_LABELING,
    LabelingParams,
    LabelingResult,
    PoolParams,
    PoolResult,
    RoundParams,
    ScoringParams,
    SimulationJobResult,
    SimulationParams,
)
from core.active_learning.review_queue import QueueItem
from core.active_learning.simulation import SimulationResult
from core.active_learning.uncertainty import STRATEGIES, STRATEGY_LABELS
from core.auth import Permission, allowed
from core.features import DEFAULT_FEATURE_SETS, FEATURE_SETS
from core.generation.kinds import GEMINI_KEY
from core.import_roots import ImportRoots, check_import
from core.jobs import Job
from core.landmarks.kinds import EXTRACTION, ExtractionParams
from core.live.figures import probability_figure
from core.models.registry import Registry
from core.schema import EMOTIONS
from core.settings import Settings
from core.store import Store
from core.training.data import from_store
from core.training.zoo import MODEL_ZOO
from core.viz.active import history_figure, simulation_figure
from ui.auth import needs
from ui.common import run_safely
from ui.gemini_key import gemini_key_ui
from ui.jobs import extraction_result, job_panel, latest_job, run_here, submit

KEY_STATE = "al_api_key"  # the typed key lives only in this browser session's memory
# Keyboard shortcuts of the card ("C" and "R" are reserved by Streamlit); 1-8 correct to the n-th emotion.
SHORTCUTS = {"approve": "A", "reject": "X", "skip": "S", "undo": "U"}


def _strategy_label(name: str) -> str:
    return STRATEGY_LABELS.get(name, name)


IMPORT_REPORT = "al_import_report"


def pool_ui(store: Store) -> None:
    counts = pool.pool_counts(store)
    if (done := st.session_state.pop(IMPORT_REPORT, None)) is not None:
        _import_message(done)
    c = st.columns(4)
    c[0].metric("Pool images", counts["pool"])
    c[1].metric("With a face", counts["face"])
    c[2].metric("No face", counts["no_face"])
    c[3].metric("Landmarks pending", counts["pending"])
    up, folder = st.tabs(["Upload", "Folder on the server"])
    with up:
        files = st.file_uploader(
            "Unlabeled images", type=["jpg", "jpeg", "png", "bmp", "webp"], accept_multiple_files=True, key="al_upload"
        )
        if st.button("Add to the pool", key="al_upload_add", disabled=not files):
            report = pool.add_to_pool(store, [(f.name, f.getvalue()) for f in files or []])
            _imported(report)
    with folder:
        roots = ImportRoots.from_settings(store.settings)
        st.caption(f"A folder on the machine that runs the dashboard; {roots.describe()}.")
        path = st.text_input("Folder", key="al_folder", placeholder="dataset/random_expressions")
        # A worker imports the folder and extracts its landmarks (one job); outside the roots is said at once.
        clicked = st.button("Import folder into the pool", key="al_folder_import", disabled=not path or _busy(AL_POOL))
        if (
            clicked
            and run_safely(lambda: check_import(roots, path, "folder"), what="Import") is not None
            and submit(AL_POOL, PoolParams(folder=str(Path(path).expanduser()))) is not None
        ):
            st.rerun()
        job_panel(AL_POOL, _pool_job_result, key="al_pool_job")
    # The same extraction job as the Data page's: a worker process runs it, never the web server's own process.
    if not allowed(Permission.EXTRACT):
        needs(Permission.EXTRACT, "Extracting landmarks")
    elif (
        st.button("Extract landmarks", key="al_extract", disabled=counts["pending"] == 0 or _busy(EXTRACTION))
        and submit(EXTRACTION, ExtractionParams()) is not None
    ):
        st.rerun()
    job_panel(EXTRACTION, extraction_result, key="al_extract_job")


def _pool_job_result(job: Job) -> None:
    result = job.result_as(PoolResult)
    if result is None:
        return
    extracted = result.extracted
    st.caption(
        f"Pool import: {result.summary}"
        + (f"; landmarks: {extracted.ok} faces, {extracted.no_face} without" if extracted else "")
    )
    if result.skipped:
        st.dataframe([{"file": n, "reason": r} for n, r in result.skipped], hide_index=True, key="al_pool_skipped")


def _imported(report: object) -> None:
    """Rerun so that the counts and the Extract button above show the new pool; the report survives the rerun."""
    st.session_state[IMPORT_REPORT] = report
    st.rerun()


def _import_message(report: object) -> None:
    summary = getattr(report, "summary", lambda: "")()
    st.success(f"Pool import: {summary}.")
    skipped = getattr(report, "skipped", [])
    if skipped:
        st.dataframe([{"file": n, "reason": r} for n, r in skipped], hide_index=True, key="al_skipped")


def scoring_ui(store: Store, registry: Registry) -> None:
    active = registry.active_id()
    if active is None:
        st.info("No model yet: train one on the Train page, or retrain below once a few faces are labeled.")
        return
    c1, c2, c3 = st.columns(3)
    strategy = c1.selectbox("Uncertainty", list(STRATEGIES), format_func=_strategy_label, key="al_strategy")
    k = int(c2.number_input("Queue size (K)", 1, 500, 20, key="al_k"))
    min_distance = c3.number_input(
        "Near-duplicate distance",
        0.0,
        0.5,
        DEFAULT_MIN_DISTANCE,
        step=0.005,
        format="%.3f",
        key="al_min_distance",
        help="Faces whose aligned landmarks are closer than this to a face already queued are skipped.",
    )
    st.caption(f"Scoring with the active model `{active}`.")
    busy = _busy(AL_SCORING)
    if st.button("Score the pool", key="al_score", type="primary", disabled=busy):
        params = ScoringParams(model_id=active, strategy=str(strategy), k=k, min_distance=float(min_distance))
        if submit(AL_SCORING, params) is not None:
            st.rerun()
    job_panel(AL_SCORING, key="al_score_job")


def _busy(kind: str) -> bool:
    job = latest_job(kind)
    return job is not None and not job.finished


def labeling_ui(store: Store, settings: Settings, n_queued: int) -> None:
    api_key = gemini_key_ui(settings, key=KEY_STATE, disabled_what="LLM labeling")
    model = st.text_input("Gemini model", settings.gemini_label_model, key="al_label_model").strip()
    relabel = st.checkbox("Ask again for images that already have a proposal", key="al_relabel")
    busy = _busy(LLM_LABELING)
    if st.button("Label the queue with Gemini", key="al_label", disabled=api_key is None or n_queued == 0 or busy):
        assert api_key is not None
        params = LabelingParams(model=model or None, relabel=relabel)
        # With the server's key a worker labels; a key typed for this session stays in this process's memory.
        started = (
            submit(LLM_LABELING, params)
            if settings.gemini_api_key is not None
            else run_here(LLM_LABELING, params, {GEMINI_KEY: api_key})
        )
        if started is not None:
            st.rerun()
    job_panel(LLM_LABELING, _label_report_ui, key="al_label_job")


def _label_report_ui(job: Job) -> None:
    result = job.result_as(LabelingResult)
    failures = result.failures if result is not None else []
    if failures:
        st.warning(f"Labeling: {len(failures)} failure(s).")
        st.dataframe([{"image": i, "reason": r} for i, r in failures], hide_index=True, key="al_failures")


def _decide(what: str, action: object) -> None:
    result = run_safely(action, what=what)  # type: ignore[arg-type]
    if result is not None:
        st.session_state["al_last"] = f"{what}: image #{getattr(result, 'image_id', '?')}"
        st.rerun()


def card_ui(store: Store, item: QueueItem, position: str) -> None:
    """One approval card: the image, the model's probabilities, the LLM's proposal, and the actions."""
    st.markdown(f"**Image #{item.image_id}** · {position} · uncertainty {item.score:.2f} ({item.strategy})")
    left, mid, right = st.columns([2, 2, 2])
    record = store.get(item.image_id)
    if record is not None and store.absolute_path(record).is_file():
        left.image(str(store.absolute_path(record)), caption=item.original_name or None)
    else:
        left.warning("The image file is missing.")
    if item.probabilities:
        mid.markdown(f"**Model:** {item.predicted} ({item.confidence:.0%})")
        mid.plotly_chart(probability_figure(item.probabilities, height=220), key=f"al_proba_{item.image_id}")
    else:
        mid.caption("No model prediction (queued before scoring).")
    if item.proposal is not None:
        p = item.proposal
        right.markdown(f"**LLM ({p.model}):** {p.answer} ({p.confidence:.0%})")
        right.caption(p.rationale or "no rationale")
    elif item.failure:
        right.warning(f"Labeling failed: {item.failure}")
    else:
        right.caption("No LLM proposal yet.")

    version = item.version
    b = st.columns(3)
    # Approve takes the LLM's emotion, else the model's prediction: the button says which.
    target = item.proposal.emotion if item.proposal is not None and item.proposal.emotion else item.predicted
    approve_label = f"Approve: {target}" if target else "Approve"
    if b[0].button(approve_label, key="al_approve", shortcut=SHORTCUTS["approve"], type="primary", disabled=not target):
        _decide("Approve", lambda: approval.approve(store, item.image_id, expected_version=version))
    if b[1].button("Reject", key="al_reject", shortcut=SHORTCUTS["reject"]):
        _decide("Reject", lambda: approval.reject(store, item.image_id, expected_version=version))
    if b[2].button("Skip", key="al_skip", shortcut=SHORTCUTS["skip"]):
        _decide("Skip", lambda: approval.skip(store, item.image_id))
    st.caption("Correct to another emotion (keys 1-8):")
    cols = st.columns(len(EMOTIONS))
    for i, (col, emotion) in enumerate(zip(cols, EMOTIONS, strict=True)):
        if col.button(emotion, key=f"al_correct_{emotion}", shortcut=str(i + 1)):
            _decide(
                "Correct",
                lambda e=emotion: approval.correct(store, item.image_id, e, expected_version=version),
            )


def undo_ui(store: Store, actor: str) -> None:
    """Undo the signed-in reviewer's own last decision (also when the queue is empty again)."""
    last = approval.last_action(store, actor)
    label = f"Undo last ({last.action} #{last.image_id})" if last is not None else "Undo last"
    if st.button(label, key="al_undo", shortcut=SHORTCUTS["undo"], disabled=last is None):
        undone = run_safely(lambda: approval.undo_last(store), what="Undo")
        if undone is not None:
            st.session_state["al_last"] = f"Undone: {last.action if last else ''} of image #{undone.image_id}"
            st.rerun()


def undo_for_others_ui(store: Store, actor: str) -> None:
    """Admins: undo another reviewer's last decision (the undo entry names whose decision it reverted)."""
    others = sorted({e.actor for e in approval.audit_log(store, limit=200) if e.actor != actor})
    if not others:
        return
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    whose = c1.selectbox("Undo the last decision of", others, key="al_undo_of")
    if c2.button("Undo theirs", key="al_undo_other"):
        undone = run_safely(lambda: approval.undo_last(store, of=str(whose)), what="Undo")
        if undone is not None:
            st.session_state["al_last"] = f"Undone: {whose}'s decision on image #{undone.image_id}"
            st.rerun()


def audit_ui(store: Store) -> None:
    """The latest decisions: who, when, what, from which value to which."""
    entries = approval.audit_log(store, limit=50)
    if not entries:
        st.caption("No decisions yet.")
        return
    rows = [
        {
            "when": e.at,
            "who": e.actor,
            "action": e.action + (" (undone)" if e.undone else ""),
            "image": e.image_id,
            "old": ", ".join(f"{k}={v}" for k, v in e.old_value.items() if k != "path"),
            "new": ", ".join(f"{k}={v}" for k, v in e.new_value.items() if k != "path"),
        }
        for e in entries
    ]
    st.dataframe(rows, hide_index=True, key="al_audit")


def bulk_ui(store: Store) -> None:
    threshold = st.slider("Agreement confidence", 0.5, 1.0, 0.9, 0.01, key="al_bulk_threshold")
    if st.button("Approve all where model and LLM agree", key="al_bulk"):
        report = run_safely(lambda: approval.bulk_approve(store, min_confidence=float(threshold)), what="Bulk approve")
        if report is not None:
            st.success(
                f"Approved {len(report.approved)}; {len(report.conflicts)} were decided by someone else; "
                f"{len(report.failed)} failed."
            )


def _retrain_ui(store: Store, registry: Registry) -> None:
    c1, c2 = st.columns(2)
    name = c1.selectbox(
        "Classifier", list(MODEL_ZOO), index=list(MODEL_ZOO).index(rounds.DEFAULT_MODEL), key="al_round_model"
    )
    features = c2.multiselect(
        "Feature sets", list(FEATURE_SETS), default=list(DEFAULT_FEATURE_SETS), key="al_round_features"
    )
    data = from_store(store)
    has_held_out = data.held_out is not None and bool(data.held_out.any())
    if not has_held_out:
        st.info("Rounds are measured on a fixed held-out set. Fix one from the labeled faces first.")
        if st.button("Fix a held-out set (20% of labeled faces)", key="al_make_held_out", disabled=len(data) == 0):
            n = run_safely(lambda: rounds.make_held_out(store), what="Fixing the held-out set")
            if n is not None:
                st.success(f"{n} faces form the held-out set.")
                st.rerun()
    activate = st.checkbox(
        "Make the new model active if it beats the active one",
        value=False,
        key="al_round_activate",
        help="Scored on the same held-out faces. Unticked, the active model (which scores the pool) stays.",
    )
    busy = _busy(AL_ROUND)
    params = RoundParams(classifier=str(name), feature_sets=features, activation="if_better" if activate else "never")
    if (
        st.button("Retrain", key="al_retrain", type="primary", disabled=not has_held_out or not features or busy)
        and submit(AL_ROUND, params) is not None
    ):
        st.rerun()
    job_panel(AL_ROUND, key="al_round_job")


def rounds_ui(store: Store, registry: Registry) -> None:
    """Retrain controls (trainers) and the history of rounds (everyone)."""
    if allowed(Permission.TRAIN):
        _retrain_ui(store, registry)
    else:
        needs(Permission.TRAIN, "Retraining")
    rows = rounds.history(store)
    if rows:
        st.plotly_chart(history_figure(rows), key="al_history")
    else:
        st.caption("No rounds yet.")


def simulation_ui(store: Store) -> None:
    st.caption(
        "Hides the labels of the labeled faces, reveals them round by round, and compares uncertainty "
        "sampling with random sampling at equal budget on a fixed held-out part."
    )
    if not allowed(Permission.TRAIN):  # core refuses the job too; the page does not offer it
        needs(Permission.TRAIN, "Running the simulation")
        return
    c = st.columns(4)
    strategy = c[0].selectbox("Uncertainty", list(STRATEGIES), format_func=_strategy_label, key="al_sim_strategy")
    initial = int(c[1].number_input("Initial labels", 2, 10_000, 20, key="al_sim_initial"))
    batch = int(c[2].number_input("Labels per round", 1, 10_000, 20, key="al_sim_batch"))
    n_rounds = int(c[3].number_input("Rounds", 1, 100, 10, key="al_sim_rounds"))
    params = SimulationParams(strategy=str(strategy), initial=initial, batch=batch, rounds=n_rounds)
    if (
        st.button("Run the simulation", key="al_simulate", disabled=_busy(AL_SIMULATION))
        and submit(AL_SIMULATION, params) is not None
    ):
        st.rerun()
    job_panel(AL_SIMULATION, _simulation_result_ui, key="al_sim_job")


def _simulation_result_ui(job: Job) -> None:
    payload = job.result_as(SimulationJobResult)
    if payload is None or not payload.labels:
        return
    result = SimulationResult(**payload.model_dump(include={f.name for f in fields(SimulationResult)}))
    st.plotly_chart(simulation_figure(result), key="al_sim_chart")
    needed = result.labels_to_match_random()
    st.caption(
        f"Random reaches macro-F1 {result.random_f1[-1]:.3f} with {result.labels[-1]} labels; uncertainty "
        + (f"reaches it with {needed}." if needed is not None else "does not reach it.")
    )
