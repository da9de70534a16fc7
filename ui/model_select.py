"""Model choice shared by the Live and Batch test pages: a select box over the registry, a cached loader, and the
Live page's watch that swaps in a newly activated model while the stream runs."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.active_model import ActiveModelWatcher
from core.inference import ExpressionModel
from core.live import FrameProcessor
from core.live.model_choices import ModelChoice, model_choices
from core.models.registry import SHIPPED_IDS, STARTER_ID, Registry, coverage_note
from ui.common import run_safely, settings

WATCHER_KEY = "active_model_watcher"
FOLLOW_EVERY_S = 2.0


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _load(models_dir: str, model_id: str) -> ExpressionModel:
    """Models are stateless at prediction time, so one loaded copy serves every session."""
    model: ExpressionModel = Registry(Path(models_dir)).load(model_id)
    return model


def model_ui(registry: Registry, *, key: str) -> ModelChoice | None:
    """A select box of landmark models, ResNets and detectors (the active one first); None when there is none."""
    choices = model_choices(registry)
    if not choices:
        return None
    labels = [c.label for c in choices]
    picked = st.selectbox(
        "Model",
        labels,
        key=key,
        help="The active model switches by itself when another one is activated (Train page or "
        "`python -m core models activate`). Landmark models, ResNets and detectors work alike here.",
    )
    choice = choices[labels.index(picked)] if picked in labels else choices[0]
    st.caption(f"Now: {choice.details}" if choice.follows_active else choice.details)
    return choice


def require_model(choice: ModelChoice | None) -> ExpressionModel:
    """The chosen model loaded; explains and stops the page when there is none or it fails to load."""
    if choice is None:
        st.info("No expression model yet: train one on the **Train** page (or ship `models/starter/`).")
        st.stop()
    assert choice is not None
    note = coverage_note(choice.card)
    if note:
        st.caption(note)
    models_dir = str(settings().models_dir)
    if choice.card.id == STARTER_ID and all(c.id in SHIPPED_IDS for c in Registry(Path(models_dir)).list()):
        # Only while there is nothing else: a user who picked the starter over a trained model needs no nudge.
        st.info("Using the shipped **starter model**: no model has been trained yet. Train one on the **Train** page.")
    model = run_safely(lambda: _load(models_dir, choice.card.id), what=f"Loading model {choice.card.id}")
    if model is None:
        st.stop()
    assert model is not None
    return model


def _watcher(models_dir: str) -> ActiveModelWatcher:
    """This session's watcher of the active model. It loads through the shared cache, so a model that another
    session (or `require_model`) already loaded is not loaded again; the fragment that calls it runs every
    FOLLOW_EVERY_S, so the watcher itself need not space its checks (interval 0)."""
    watcher: ActiveModelWatcher | None = st.session_state.get(WATCHER_KEY)
    if watcher is None:
        registry = Registry(Path(models_dir))

        def load() -> ExpressionModel | None:
            active = registry.active_id()
            return None if active is None else _load(models_dir, active)

        watcher = ActiveModelWatcher(load, registry.active_stamp, interval_s=0.0)
        st.session_state[WATCHER_KEY] = watcher
    return watcher


def follow_active(processor: FrameProcessor) -> None:
    """Run as a fragment every couple of seconds on the Live page: when another model is activated, hand it to the
    running stream. Between activations this costs one stat of `active.json` (core's ActiveModelWatcher)."""
    watcher = _watcher(str(settings().models_dir))
    model = watcher.current()
    if watcher.error:
        st.warning(f"The newly activated model is not used: {watcher.error}")
    if model is not None and model.card.id != processor.model.card.id:
        processor.set_model(model)
        st.toast(f"Now using the newly activated model {model.card.id}")
