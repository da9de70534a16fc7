"""Train: compare landmark models by grid search, fine-tune ResNet-50, train the grid detector, manage models."""

from __future__ import annotations

import streamlit as st

from core.auth import Permission, allowed
from core.jobs import Job
from core.training.kinds import LANDMARK_TRAINING, LandmarkTrainingResult
from core.training.promotion import activate_compared
from core.training.report import comparison_table, per_class_table
from core.viz.training import comparison_bar, confusion_heatmap, per_class_f1
from ui.auth import needs
from ui.common import get_registry, get_store, page_setup, run_safely
from ui.jobs import job_panel, latest_job, submit
from ui.suites_page import suite_section
from ui.train_page import (
    best_index,
    choices_ui,
    comparison_ui,
    counts_caption,
    data_ui,
    face_counts,
    last_result,
    registry_ui,
    reports_from_state,
    training_params,
)

page_setup("Train", icon=":material/model_training:")
store, registry = get_store(), get_registry()
landmark_tab, resnet_tab, detector_tab, registry_tab = st.tabs(
    ["Landmark models", "Image model", "Face-box detector", "Models"]
)


def show_payload(payload: LandmarkTrainingResult | None) -> None:
    """A landmark comparison: the table, the best new model beside the active one, charts, confusion matrices."""
    if payload is None or not payload.reports:
        return
    reports = reports_from_state(payload)
    st.subheader("Results")
    st.caption(
        f"{payload.n_faces} faces. Held-out set: {payload.holdout}. CV: {reports[0].cv}. "
        "Scores are macro-F1 unless named."
    )
    st.dataframe(comparison_table(reports), hide_index=True, key="train_table")
    comparison_ui(registry, payload)
    st.plotly_chart(comparison_bar(reports), key="train_bar")
    st.plotly_chart(per_class_f1(reports), key="train_f1")
    names = [r.name for r in reports]
    shown = st.selectbox("Confusion matrix of", names, index=best_index(reports), key="train_cm_model")
    report = reports[names.index(shown)] if shown in names else reports[0]
    st.plotly_chart(
        confusion_heatmap(report.confusion_matrix, report.labels, f"{report.name} (held out)"), key="train_cm"
    )
    st.dataframe(per_class_table(report), key="train_per_class")
    if report.model_id and registry.active_id() != report.model_id:
        activate = allowed(Permission.ACTIVATE)
        if activate and st.button(f"Make {report.name} the active model", key="train_activate_shown"):
            run_safely(lambda: activate_compared(registry, str(report.model_id)), what="Activating")
            st.rerun()
    elif report.model_id:
        st.caption(f"{report.name} (`{report.model_id}`) is the active model.")


def show_results(job: Job) -> None:
    """The comparison a finished (or cancelled) landmark-training job saved."""
    show_payload(job.result_as(LandmarkTrainingResult))


with landmark_tab:
    latest = latest_job(LANDMARK_TRAINING)
    busy = latest is not None and not latest.finished
    filters = data_ui()
    counts = face_counts(store, filters)
    if not counts:
        st.info(
            "No labeled faces with landmarks match. Import labeled images and run the extraction on the "
            "**Data** page, or loosen the filters."
        )
    else:
        counts_caption(counts)
        choices = choices_ui(filters)
        folds = choices.folds or 2
        rare = {emotion: n for emotion, n in counts.items() if n < folds + 1}
        if rare:
            # The job would refuse this; say so before it is started, and how to go on.
            st.warning(
                f"Too few faces for {folds}-fold cross-validation plus a held-out test: "
                + ", ".join(f"{e} ({n})" for e, n in rare.items())
                + ". Leave these emotions out with the Emotions filter above, add faces, or use fewer folds."
            )
        if not allowed(Permission.TRAIN):
            needs(Permission.TRAIN, "Training")
        elif (
            st.button("Train and compare", key="train_run", type="primary", disabled=not choices.models or busy)
            and submit(LANDMARK_TRAINING, training_params(choices)) is not None
        ):
            st.rerun()
    if job_panel(LANDMARK_TRAINING, show_results, key="train_job") is None:
        # No job of this user's in the database: the last comparison kept in the registry, if any.
        kept = last_result(registry)
        if kept:
            show_payload(kept)

with resnet_tab:
    try:
        from ui.train_faceapi import backbones_table, faceapi_section
        from ui.train_torch import resnet_section
    except ImportError as exc:
        st.info(f"The image-model trainers are not available here ({exc}). Install torch and torchvision to use them.")
    else:
        backbones_table()
        backbone = st.radio(
            "Backbone",
            ["face-api (pretrained on expressions)", "EfficientNet-Lite0 (ImageNet)", "ResNet-50"],
            horizontal=True,
            key="image_backbone",
        )
        if not allowed(Permission.TRAIN):
            needs(Permission.TRAIN, "Training image models")
        elif backbone == "ResNet-50":
            resnet_section()
        elif backbone.startswith("EfficientNet"):
            resnet_section("efficientnet_lite0")
        else:
            faceapi_section()

with detector_tab:
    try:
        from ui.train_torch import detector_section
    except ImportError as exc:
        st.info(f"The face-box detector trainer is not available here ({exc}).")
    else:
        if allowed(Permission.TRAIN):
            detector_section()
        else:
            needs(Permission.TRAIN, "Training the detector")

with registry_tab:
    registry_ui(registry)
    suite_section(store, registry)
