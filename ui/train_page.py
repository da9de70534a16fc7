"""Widgets and runs of the Train page. Training: `core.training.compare`; saving: `core.training.landmark_artifact`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from core.auth import Permission, allowed, current_user
from core.features import DEFAULT_FEATURE_SETS, FEATURE_SETS
from core.models.registry import SHIPPED_IDS, ActivationRecord, ModelCard, Registry
from core.schema import EMOTIONS, EXTRACTION_OK, SOURCES, TRAINABLE_STATUSES
from core.store import Store
from core.store.repository import Filters
from core.suites.views import card_suites
from core.training.kinds import LandmarkTrainingParams, LandmarkTrainingResult
from core.training.last_comparison import load_last_comparison
from core.training.promotion import Comparison, activate_compared, domain_versus, side_by_side
from core.training.report import ModelReport
from core.training.zoo import DEFAULT_MODELS, HYBRID_MODELS, MODEL_ZOO, PRESETS
from ui.auth import needs
from ui.common import run_safely

RESULT_KEY = "train_result"


@dataclass
class TrainChoices:
    filters: Filters
    feature_sets: list[str]
    models: list[str]
    preset: str
    folds: int
    seed: int
    grids: dict[str, dict[str, list[Any]]]
    activate_best: bool
    suite: str | None = None  # the comparison with the active model: a suite (None: the last used), ...
    use_suite: bool = True  # ... or the held-out split


def data_ui() -> Filters:
    """Which faces to train on."""
    c1, c2 = st.columns(2)
    emotions = c1.multiselect("Emotions (empty: all)", EMOTIONS, key="train_emotions")
    sources = c2.multiselect("Sources (empty: all)", SOURCES, key="train_sources")
    return Filters(emotions=emotions, sources=sources)


def face_counts(store: Store, filters: Filters) -> dict[str, int]:
    """Labeled train/test faces with landmarks per emotion: cheap counts, so the page loads no arrays until a run."""
    counts = {}
    for emotion in filters.emotions or EMOTIONS:
        wanted = Filters(
            emotions=[emotion],
            sources=filters.sources,
            statuses=list(TRAINABLE_STATUSES),
            extraction_states=[EXTRACTION_OK],
            labeled_only=True,
        )
        n = store.count(wanted)
        if n:
            counts[emotion] = n
    return counts


def counts_caption(counts: dict[str, int]) -> None:
    st.caption(
        f"{sum(counts.values())} labeled faces with landmarks (statuses train and test; test faces form the "
        "held-out set when there are any): " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )


def choices_ui(filters: Filters) -> TrainChoices:
    """Feature sets, models, preset and grids; the preset fills in the folds and the grids."""
    c1, c2, c3 = st.columns([2, 2, 1])
    features = c1.multiselect(
        "Feature sets", list(FEATURE_SETS), default=list(DEFAULT_FEATURE_SETS), key="train_features"
    )
    models = c2.multiselect(
        "Models",
        list(MODEL_ZOO),
        default=list(DEFAULT_MODELS),
        key="train_models",
        help="faceapi_blend: face-api's pretrained expression network (crops of each face) beside the landmark "
        "features, blended with the network's own answer; the blend weight is tuned with C.",
    )
    if any(m in HYBRID_MODELS for m in models):
        st.caption(
            "faceapi_blend runs face-api's network on every training image once (cached under the data root). "
            "The network knows 7 emotions, not contempt: contempt can come only from the landmark features."
        )
    preset_name = c3.radio(
        "Preset",
        list(PRESETS),
        key="train_preset",
        horizontal=True,
        help="quick: small grids, 3 folds. thorough: big grids (successive halving), 5 folds.",
    )
    spec = PRESETS[preset_name]
    c4, c5, c6 = st.columns(3)
    folds = int(c4.number_input("CV folds", 2, 10, spec.folds, key=f"train_folds_{preset_name}"))
    seed = int(c5.number_input("Seed", 0, 2**31 - 1, 0, key="train_seed"))
    activate = c6.checkbox(
        "Make the best model active if it beats the active one",
        value=False,
        key="train_activate_best",
        help="The best new model and the active model are scored on the same images: the evaluation suite chosen "
        "below when there is one, else the held-out split. Unticked, the active model stays until you activate "
        "another one.",
    )
    suite, use_suite = compare_on_ui()
    grids: dict[str, dict[str, list[Any]]] = {}
    with st.expander("Parameter grids (JSON, parameter names as in the Pipeline)"):
        for name in models:
            default = json.dumps(spec.grids.get(name, {}))
            text = st.text_input(name, default, key=f"train_grid_{preset_name}_{name}")
            try:
                grid = json.loads(text) if text.strip() else {}
                if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
                    raise ValueError("a grid maps parameter names to non-empty lists")
                grids[name] = grid
            except ValueError as exc:
                st.warning(f"{name}: the grid is not valid JSON ({exc}); the preset's grid is used instead.")
    return TrainChoices(filters, features, models, preset_name, folds, seed, grids, activate, suite, use_suite)


HELD_OUT_SPLIT = "the held-out split"


def compare_on_ui() -> tuple[str | None, bool]:
    """Which images the best model and the active one are compared on: an evaluation suite (default: the last used
    one) or the held-out split. Shown only when a suite exists."""
    from core.suites.manage import last_used_suite, list_suites
    from ui.common import get_store

    store = get_store()
    names = [s.name for s in list_suites(store)]
    if not names:
        return None, False
    last = last_used_suite(store)
    options = [f"suite {n}" for n in names] + [HELD_OUT_SPLIT]
    picked = st.selectbox(
        "Compare with the active model on",
        options,
        index=names.index(last) if last in names else 0,
        key="train_compare_on",
        help="On a suite the new model wins only when its worst domain is better and no domain drops by more than "
        "SUITE_DROP_MARGIN. Every figure of the comparison is measured on the images chosen here.",
    )
    if picked == HELD_OUT_SPLIT:
        return None, False
    return str(picked).removeprefix("suite "), True


def training_params(choices: TrainChoices) -> LandmarkTrainingParams:
    """What the landmark-training job runs (in a worker, like `python -m core train`): compare, save every model,
    score the best against the active model, and activate it only if asked and better."""
    return LandmarkTrainingParams(
        models=choices.models,
        feature_sets=choices.feature_sets,
        preset=choices.preset,
        grids=choices.grids,
        folds=choices.folds,
        seed=choices.seed,
        emotions=list(choices.filters.emotions),
        sources=list(choices.filters.sources),
        activation="if_better" if choices.activate_best else "never",
        suite=choices.suite,
        use_suite=choices.use_suite,
    )


def reports_from_state(payload: LandmarkTrainingResult) -> list[ModelReport]:
    return [ModelReport(**r) for r in payload.reports]


def best_index(reports: list[ModelReport]) -> int:
    """Index of the best model by held-out macro-F1: what the confusion matrix shows first."""
    return max(range(len(reports)), key=lambda i: reports[i].macro_f1) if reports else 0


def last_result(registry: Registry) -> LandmarkTrainingResult | None:
    """This session's comparison, else the user's last one from the registry (it survives a reload)."""
    payload: LandmarkTrainingResult | None = st.session_state.get(RESULT_KEY)
    if payload is None:
        kept = load_last_comparison(registry, current_user().id)
        if kept is not None:
            payload = st.session_state[RESULT_KEY] = LandmarkTrainingResult.model_validate(kept)
    return payload


def comparison_ui(registry: Registry, payload: LandmarkTrainingResult) -> None:
    """The best new model beside the active one on the same images, the outcome worded for the model active now,
    and the button that activates it."""
    raw = payload.comparison
    if not raw:
        if payload.activation_message:
            st.info(payload.activation_message)
        return
    comparison = Comparison.model_validate(raw)
    st.subheader("New model against the active one")
    st.caption(f"Every figure below is measured on {comparison.holdout}: {comparison.headline()}.")
    candidate = comparison.candidate.model_id
    active = registry.active_id()
    stale = comparison.incumbent is not None and active not in (candidate, comparison.incumbent.model_id)
    st.dataframe(side_by_side(comparison, stale=stale), key="train_versus")
    if comparison.candidate_domains is not None:
        st.dataframe(domain_versus(comparison), key="train_versus_domains")
    if comparison.n_disagreements:
        with st.expander(f"{comparison.n_disagreements} images where the two models disagree"):
            st.dataframe(
                pd.DataFrame([d.model_dump() for d in comparison.disagreements]),
                hide_index=True,
                key="train_disagreements",
            )
    outcome = comparison.outcome(active, activated=payload.activated)
    if active == candidate:
        st.success(outcome)
    else:
        st.info(outcome)
        if allowed(Permission.ACTIVATE) and st.button(
            f"Make {candidate} the active model", key="train_activate_best_model"
        ):
            run_safely(lambda: activate_compared(registry, candidate), what="Activating")
            st.rerun()


def registry_table(cards: list[ModelCard], active: str | None) -> pd.DataFrame:
    rows = [
        {
            "active": "✓" if c.id == active else "",  # plain text: renders without an emoji font, as on Home
            "id": c.id,
            "kind": c.kind,
            "model": c.name,
            "features": "+".join(c.feature_sets),
            "classes": ", ".join(c.classes),
            "macro_f1": c.metrics.get("macro_f1"),
            "accuracy": c.metrics.get("accuracy"),
            "suites (worst domain)": card_suites(c.suite_results),
            "created": c.created_at.strftime("%Y-%m-%d %H:%M"),
            "trained by": c.trained_by,
        }
        for c in cards
    ]
    return pd.DataFrame(rows)


def registry_ui(registry: Registry) -> None:
    """List, activate and delete models."""
    cards = registry.list()
    if not cards:
        st.info("No models yet. Train one above (or ship `models/starter/`).")
        return
    active = registry.active_id()
    st.dataframe(registry_table(cards, active), hide_index=True, key="registry_table")
    ids = [c.id for c in cards]
    picked = st.selectbox("Model", ids, index=ids.index(active) if active in ids else 0, key="registry_pick")
    c1, c2 = st.columns(2)
    if not allowed(Permission.ACTIVATE):
        needs(Permission.ACTIVATE, "Activating models")
    elif c1.button("Make active", key="registry_activate", disabled=picked == active):
        run_safely(lambda: activate_compared(registry, picked), what="Activating")
        st.rerun()
    if allowed(Permission.DELETE) and c2.button("Delete", key="registry_delete", disabled=picked in SHIPPED_IDS):
        run_safely(lambda: registry.delete(picked), what="Deleting")
        st.rerun()
    history_ui(registry)


def history_table(records: list[ActivationRecord]) -> pd.DataFrame:
    rows = []
    for r in records:
        cand = (r.comparison or {}).get("candidate") or {}
        inc = (r.comparison or {}).get("incumbent") or {}
        rows.append(
            {
                "when": r.at.strftime("%Y-%m-%d %H:%M:%S"),
                "who": r.actor,
                "activated": r.model_id,
                "replaced": r.previous_id or "",
                "why": r.reason,
                "macro_f1 new": cand.get("macro_f1"),
                "macro_f1 replaced": inc.get("macro_f1"),
                "held-out images": (r.comparison or {}).get("n_images"),
            }
        )
    return pd.DataFrame(rows)


def history_ui(registry: Registry) -> None:
    """Every activation, newest first, and a rollback to the model the latest one replaced."""
    st.subheader("Activation history")
    records = registry.history()
    if not records:
        st.caption("No activation on record yet: the shipped starter model (or none) is in use.")
        return
    st.dataframe(history_table(records), hide_index=True, key="registry_history")
    previous = records[0].previous_id
    can_roll_back = bool(previous) and (registry.root / str(previous)).is_dir()
    if (
        can_roll_back
        and allowed(Permission.ACTIVATE)
        and st.button(f"Roll back to {previous}", key="registry_rollback", icon=":material/undo:")
    ):
        run_safely(lambda: registry.rollback(), what="Rolling back")
        st.rerun()
