"""Model choice shared by the Live and Batch test pages: a select box over the registry and a cached loader."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.inference import ExpressionModel
from core.live.model_choices import ModelChoice, model_choices
from core.registry import STARTER_ID, Registry, coverage_note
from ui.common import run_safely, settings


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _load(models_dir: str, model_id: str) -> ExpressionModel:
    """Models are stateless at prediction time, so one loaded copy serves every session."""
    model: ExpressionModel = Registry(models_dir).load(model_id)
    return model


def model_ui(registry: Registry, *, key: str) -> ModelChoice | None:
    """A select box of landmark models, ResNets and detectors (the active one first); None when there is none."""
    choices = model_choices(registry)
    if not choices:
        return None
    labels = [c.label for c in choices]
    picked = st.selectbox("Model", labels, key=key, help="Landmark models and the ResNet work alike here.")
    choice = choices[labels.index(picked)] if picked in labels else choices[0]
    st.caption(choice.details)
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
    if choice.card.id == STARTER_ID and all(c.id == STARTER_ID for c in Registry(Path(models_dir)).list()):
        # Only while there is nothing else: a user who picked the starter over a trained model needs no nudge.
        st.info("Using the shipped **starter model**: no model has been trained yet. Train one on the **Train** page.")
    model = run_safely(lambda: _load(models_dir, choice.card.id), what=f"Loading model {choice.card.id}")
    if model is None:
        st.stop()
    assert model is not None
    return model
