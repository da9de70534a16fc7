"""Train-page sections for the torch models: the ResNet-50 image model and the face-box grid detector.

Training runs in a background thread owned by the session (`TorchJob`): the page stays responsive, a fragment
redraws the progress bar and curves every second, and Cancel sets the job's Event (the best epoch so far is saved).
The thread never calls `st.*`; it only appends epoch stats under a lock.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
import torch.nn  # without torch this fails, and the Train page shows a note instead of these tabs

from core.auth import Permission, allowed, may_act_for, require, require_owner
from core.errors import PathNotAllowed, StudioError
from core.import_roots import ImportRoots
from core.registry import ModelCard, Registry
from core.schema import EMOTIONS, EXTRACTION_OK, SOURCES, STATUS_TEST, STATUS_TRAIN, TRAINABLE_STATUSES
from core.settings import PROJECT_ROOT
from core.store.repository import Filters
from core.viz.curves import DETECTOR_LOSSES, DETECTOR_METRICS, comparison_chart, learning_curves
from ui.auth import signed_in_user
from ui.common import get_registry, get_store, log, run_safely, settings

RESNET_JOB = "torch_job_resnet"
DETECTOR_JOB = "torch_job_detector"
COMPARE_KEY = "torch_compare_scores"
DEFAULT_YOLO = PROJECT_ROOT.parent / "shared" / "data" / "fer-yolo"


@dataclass
class TorchJob:
    """One training run in a background thread, polled by the page."""

    title: str
    total_epochs: int
    started_by: str = ""
    cancel: threading.Event = field(default_factory=threading.Event)
    history: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"  # running | done | cancelled | failed
    message: str = ""
    card_id: str | None = None
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, stats: dict[str, Any]) -> None:
        with self.lock:
            self.history.append(stats)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.history)


def start_job(title: str, total_epochs: int, work: Callable[[TorchJob], tuple[str, str]]) -> TorchJob:
    """Run `work(job)` (returns the saved model id and a summary) in a daemon thread."""
    job = TorchJob(title, total_epochs, started_by=require(Permission.TRAIN).id)

    def target() -> None:
        try:
            job.card_id, job.message = work(job)
            job.status = "cancelled" if job.cancel.is_set() else "done"
        except StudioError as exc:
            job.status, job.message = "failed", str(exc)
        except Exception as exc:  # unexpected: details to the log, a short message to the page
            log.exception("%s failed", title)
            job.status, job.message = "failed", f"{type(exc).__name__}: {exc} (details in the server log)"

    # The thread acts as the user who started it (a copy of this run's context carries the identity).
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(target,), name=f"train-{title}", daemon=True).start()
    return job


def _job_view(key: str, losses: tuple[str, ...], metrics: tuple[str, ...], registry: Registry) -> None:
    job: TorchJob | None = st.session_state.get(key)
    if job is None:
        return
    history = job.snapshot()
    done = len(history)
    elapsed = time.monotonic() - job.started
    if job.status == "running":
        st.progress(
            min(1.0, done / job.total_epochs), text=f"{job.title}: epoch {done}/{job.total_epochs} ({elapsed:.0f}s)"
        )
        st.caption(f"Started by {job.started_by}.")
        cancel = may_act_for(job.started_by) and st.button("Cancel", key=f"{key}_cancel")
        if cancel and run_safely(lambda: require_owner(job.started_by, "cancelling training"), what="Cancel"):
            job.cancel.set()
            st.toast("Stopping after the current batch; the best epoch so far is kept.")
    elif job.status == "failed":
        st.error(f"{job.title} failed: {job.message}")
    else:
        word = "was cancelled; the best epoch so far was saved" if job.status == "cancelled" else "finished"
        st.success(f"{job.title} {word} as model `{job.card_id}`. {job.message}")
        if job.card_id:
            _comparison_view(key, str(job.card_id), registry)
        if job.card_id and allowed(Permission.ACTIVATE) and st.button("Make this model active", key=f"{key}_activate"):
            model_id = str(job.card_id)

            def activate() -> bool:
                from core.training.promotion import activate_compared

                activate_compared(registry, model_id)
                return True

            if run_safely(activate, what="Activation"):
                st.toast(f"{model_id} is now the active model")
    if history:
        st.plotly_chart(learning_curves(history, losses=losses, metrics=metrics, title=job.title), key=f"{key}_fig")


def _comparison_view(key: str, model_id: str, registry: Registry) -> None:
    """The new model beside the active one on the store's held-out faces (computed on request: it runs both)."""
    from core.training.promotion import compare_with_active, load_comparison, side_by_side

    if st.button("Compare with the active model", key=f"{key}_compare"):
        run_safely(lambda: compare_with_active(registry, get_store(), model_id), what="The comparison")
    comparison = load_comparison(registry, model_id)
    if comparison is not None:
        st.caption(f"Against the active model on {comparison.holdout}: {comparison.headline()}.")
        st.dataframe(side_by_side(comparison), key=f"{key}_versus")


def _poll(key: str, losses: tuple[str, ...], metrics: tuple[str, ...]) -> None:
    """Redraw the job every second while it runs; rerun the page once it ends so the buttons come back."""
    job: TorchJob | None = st.session_state.get(key)
    if job is not None and job.status == "running":

        @st.fragment(run_every=1.0)
        def live() -> None:
            # A fragment rerun skips the page's top, so it resolves the user itself (for its Cancel button).
            signed_in_user(sidebar=False)
            current: TorchJob | None = st.session_state.get(key)
            _job_view(key, losses, metrics, get_registry())
            if current is not None and current.status != "running":
                st.rerun()

        live()
    else:
        _job_view(key, losses, metrics, get_registry())


def _running(key: str) -> bool:
    job: TorchJob | None = st.session_state.get(key)
    return job is not None and job.status == "running"


def _devices() -> list[str]:
    return ["auto", "cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


# ---- ResNet-50 -------------------------------------------------------------------------------------------------
def resnet_section() -> None:
    from core.training.resnet import ResNetConfig, find_imagenet_weights, load_crops, save_resnet, train_resnet
    from core.training.resnet import weights_status as status_of

    s = settings()
    store = get_store()
    pretrained = find_imagenet_weights(s) is not None
    (st.success if pretrained else st.warning)(status_of(s))
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
    epochs = c1.number_input("Epochs", 1, 200, 10, key="resnet_epochs")
    size = c2.selectbox("Crop size (px)", [96, 128, 160, 224], index=3, key="resnet_size")
    batch = c3.number_input("Batch size", 2, 256, 32, key="resnet_batch")
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
    config = ResNetConfig(
        image_size=int(size),
        epochs=int(epochs),
        batch_size=int(batch),
        device=str(device),
        freeze_backbone=bool(freeze),
    )
    if st.button(
        "Train ResNet-50", key="resnet_start", type="primary", disabled=_running(RESNET_JOB) or not scratch_ok
    ):
        registry = get_registry()

        def work(job: TorchJob) -> tuple[str, str]:
            data = load_crops(store, filters, size=config.image_size)
            result = train_resnet(data, s, config, progress=lambda e, n: job.record(e.as_dict()), cancel=job.cancel)
            card = save_resnet(registry, result, data_sources=["store"])
            m = result.metrics
            summary = (
                f"Validation accuracy {m.get('accuracy', 0):.3f}, macro-F1 {m.get('macro_f1', 0):.3f}."
                if m
                else "No validation split (too few faces)."
            )
            return card.id, summary

        st.session_state[RESNET_JOB] = start_job("ResNet-50", config.epochs, work)
    _poll(RESNET_JOB, ("train_loss", "val_loss"), ("train_accuracy", "val_accuracy", "val_macro_f1"))


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
        try:  # a hosted dashboard reads datasets only under IMPORT_ROOTS
            return "yolo", ImportRoots.from_settings(settings()).check_tree(Path(path), "dataset folder")
        except PathNotAllowed as exc:
            st.error(str(exc))
            return "yolo", None
    return "store", None


def detector_section() -> None:
    from core.detector.train import DetectorConfig

    registry = get_registry()
    kind, path = _detector_data_ui()
    if kind == "yolo" and (path is None or not path.is_dir()):
        st.info("Enter the folder of a YOLO-format dataset (e.g. the fer-yolo export), or train on the store.")
        _poll(DETECTOR_JOB, DETECTOR_LOSSES, DETECTOR_METRICS)
        _comparison_ui(registry)
        return
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.number_input("Epochs", 1, 300, 30, key="det_epochs")
    size = c2.selectbox("Input size (px)", [128, 160, 192, 256, 320], index=2, key="det_size")
    batch = c3.number_input("Batch size", 1, 128, 16, key="det_batch")
    device = c4.selectbox("Device", _devices(), key="det_device")
    config = DetectorConfig(input_size=int(size), epochs=int(epochs), batch_size=int(batch), device=str(device))
    st.caption(
        "Trains from scratch (no pretrained weights). Measured: one epoch over 943 images at 160 px takes about 25 s "
        "on one CPU core; the time grows with the square of the input size."
    )
    if st.button("Train detector", key="det_start", type="primary", disabled=_running(DETECTOR_JOB)):
        st.session_state[DETECTOR_JOB] = start_job(
            "Grid detector", config.epochs, _detector_work(kind, path, config, registry)
        )
    _poll(DETECTOR_JOB, DETECTOR_LOSSES, DETECTOR_METRICS)
    _comparison_ui(registry)


def _detector_work(
    kind: str, path: Path | None, config: Any, registry: Registry
) -> Callable[[TorchJob], tuple[str, str]]:
    from core.detector.data import samples_from_store, samples_from_yolo, yolo_class_map
    from core.detector.model import model_params, save_detector
    from core.detector.train import train_detector
    from core.yolo import read_yolo_dataset

    store = get_store()

    def work(job: TorchJob) -> tuple[str, str]:
        if kind == "yolo" and path is not None:
            ds = read_yolo_dataset(path)
            classes = [e for e in EMOTIONS if e in ds.emotions]
            cmap = yolo_class_map(ds.emotions, classes)
            train = samples_from_yolo(ds.splits["train"], cmap, config.input_size)
            val = samples_from_yolo(ds.splits.get("valid") or ds.splits.get("test") or [], cmap, config.input_size)
            sources = [str(path)]
        else:
            classes = [e for e in EMOTIONS if e in store.counts_by("emotion")]
            train = samples_from_store(
                store, Filters(statuses=[STATUS_TRAIN], labeled_only=True), classes, config.input_size
            )
            held = Filters(statuses=[STATUS_TEST], labeled_only=True)
            val = samples_from_store(store, held, classes, config.input_size) if store.count(held) else []
            sources = ["store"]
        result = train_detector(
            train, val, classes, config, progress=lambda e, n: job.record(e.as_dict()), cancel=job.cancel
        )
        metrics: dict[str, Any] = result.metrics.as_dict() if result.metrics is not None else {}
        metrics.update(history=[h.as_dict() for h in result.history], best_epoch=result.best_epoch)
        card = save_detector(
            registry,
            result.net,
            classes=classes,
            data_sources=sources,
            metrics=metrics,
            params=model_params(result.net, config.input_size, result.spec, config.widths),
        )
        m = result.metrics
        summary = (
            f"mAP@0.5 {m.map50:.3f}, face recall {m.face_recall:.3f}, emotion accuracy on matched faces "
            f"{m.emotion_accuracy:.3f}."
            if m
            else "No validation images."
        )
        return card.id, summary

    return work


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
    if st.button("Compare", key="cmp_run", disabled=not folder.strip()):
        scores = run_safely(
            lambda: _compare(registry, Path(folder), [det_id, lm_id, rn_id], int(limit)), what="Comparison"
        )
        if scores is not None:
            st.session_state[COMPARE_KEY] = scores
    scores = st.session_state.get(COMPARE_KEY)
    if scores:
        table = pd.DataFrame(scores)[
            [
                "name",
                "model_id",
                "emotion_accuracy",
                "face_recall",
                "face_precision",
                "ms_per_image",
                "matched",
                "num_faces",
                "images",
            ]
        ]
        st.dataframe(table, hide_index=True, key="cmp_table")
        st.plotly_chart(comparison_chart(scores), key="cmp_fig")


def _compare(registry: Registry, folder: Path, ids: list[str], limit: int) -> list[dict[str, object]]:
    from core.detector.compare import compare_pipelines, load_images
    from core.inference import Recognizer
    from core.landmarks.extractor import LandmarkExtractor
    from core.yolo import read_yolo_dataset
    from ui.progress import progress_bar

    ds = read_yolo_dataset(ImportRoots.from_settings(settings()).check_tree(folder, "dataset folder"))
    items = (ds.splits.get("valid") or ds.splits.get("test") or ds.splits.get("train") or [])[:limit]
    if not items:
        raise StudioError(f"{folder} has no images")
    images = load_images(items)
    names = ["detector", "mediapipe+landmark", "mediapipe+resnet"]
    with LandmarkExtractor(settings()) as extractor:
        pipelines = {}
        for name, model_id in zip(names, ids, strict=True):
            if model_id == "none":
                continue
            model = registry.load(model_id)
            pipelines[name] = Recognizer(model, extractor if model.needs_landmarks else None)
        scores = compare_pipelines(pipelines, images, ds.emotions, progress=progress_bar("Comparing"))
    return [s.as_dict() for s in scores]
