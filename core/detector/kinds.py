"""The detector's job kinds: training the grid detector (on a YOLO dataset or the store's faces; resumable from its
per-epoch checkpoint) and comparing whole pipelines (detector, MediaPipe + landmark model, MediaPipe + ResNet) on a
YOLO dataset."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from core.auth import Permission
from core.detector.params import DetectorParams
from core.detector.scores import PipelineScore
from core.jobs.contract import SHORT, JobContext, JobKind, Params, Result, TrainedModelResult
from core.training.store_training import job_checkpoint, promote_new_model, remove_checkpoint, resumed_from, set_threads

DETECTOR_TRAINING = "detector_training"
PIPELINE_COMPARISON = "pipeline_comparison"


class DetectorResult(TrainedModelResult):
    resumed_from_epoch: int = 0
    checkpoint_note: str = ""
    n_train: int = 0
    n_val: int = 0
    classes: list[str] = Field(default_factory=list)


def yolo_hash(root: Path) -> str:
    """What the detector was trained on: the label files of a YOLO dataset (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.txt")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def samples_hash(*parts: Any) -> str:
    """What a detector trained on the store's faces saw: its samples' pixels, boxes and classes (and class list)."""
    import numpy as np

    digest = hashlib.sha256()
    for part in parts:
        for item in part:
            if isinstance(item, str):
                digest.update(item.encode())
                continue
            for array in (item.image, item.boxes, item.classes):
                digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


@dataclass
class DetectorData:
    train: list[Any]
    val: list[Any]
    classes: list[str]
    sources: list[str]
    data_hash: str  # "" for the store's faces: their samples are hashed once loaded


def _yolo_data(params: DetectorParams, ctx: JobContext, size: int, epochs: int) -> DetectorData:
    from core.detector.data import samples_from_yolo, yolo_class_map
    from core.import_roots import ImportRoots, check_import
    from core.schema import EMOTIONS
    from core.yolo import read_yolo_dataset

    def loading(what: str) -> Any:
        return lambda d, t, _m="": ctx.progress(0, epochs, f"loading {what} images {d}/{t}")

    root = check_import(ImportRoots.for_acting_user(ctx.settings), str(params.yolo), "yolo")
    ds = read_yolo_dataset(root)
    classes = [e for e in EMOTIONS if e in ds.emotions]
    cmap = yolo_class_map(ds.emotions, classes)
    val_items = ds.splits.get("valid") or ds.splits.get("test") or []
    train = samples_from_yolo(ds.splits["train"], cmap, size, progress=loading("train"))
    val = samples_from_yolo(val_items, cmap, size, progress=loading("valid"))
    return DetectorData(train, val, classes, [str(root)], yolo_hash(root))


def _store_data(ctx: JobContext, size: int) -> DetectorData:
    from core.detector.data import samples_from_store
    from core.schema import EMOTIONS, STATUS_TEST, STATUS_TRAIN
    from core.store.repository import Filters

    store = ctx.store
    classes = [e for e in EMOTIONS if e in store.counts_by("emotion")]
    train = samples_from_store(store, Filters(statuses=[STATUS_TRAIN], labeled_only=True), classes, size)
    held_out = Filters(statuses=[STATUS_TEST], labeled_only=True)
    val = samples_from_store(store, held_out, classes, size) if store.count(held_out) else []
    return DetectorData(train, val, classes, ["store"], "")


def _save(params: DetectorParams, ctx: JobContext, config: Any, data: DetectorData, result: Any) -> str:
    """Save the trained net with its metrics; its model id."""
    from core.detector.model import model_params, save_detector

    metrics: dict[str, Any] = result.metrics.as_dict() if result.metrics is not None else {}
    metrics.update(
        history=[h.as_dict() for h in result.history], best_epoch=result.best_epoch, train_seconds=result.seconds
    )
    net_params = model_params(result.net, config.input_size, result.spec, config.widths, config.backbone)
    card = save_detector(
        ctx.registry,
        result.net,
        classes=data.classes,
        params={**net_params, "expression_head": params.expression_head},
        metrics=metrics,
        data_hash=data.data_hash,
        data_sources=data.sources,
        notes="cancelled: best epoch so far" if result.cancelled else "",
    )
    return card.id


def run_detector_training(params: DetectorParams, ctx: JobContext) -> DetectorResult:
    from core.auth import require
    from core.detector.train import DetectorConfig, EpochStats, train_detector

    require(Permission.TRAIN)
    set_threads(params.threads)
    config = DetectorConfig(**params.model_dump(exclude={"yolo", "threads", "expression_head", "activation"}))
    if params.yolo is not None:
        data = _yolo_data(params, ctx, config.input_size, config.epochs)
    else:
        data = _store_data(ctx, config.input_size)
    data_hash = data.data_hash or samples_hash(data.train, data.val, data.classes)
    checkpoint, note = job_checkpoint(params, data_hash, ctx)
    new: list[dict[str, Any]] = []  # epochs run by this attempt

    def epoch(stats: EpochStats, total: int) -> None:
        new.append(stats.as_dict())
        ctx.progress(
            stats.epoch,
            total,
            f"epoch {stats.epoch}/{total}: loss {stats.train_loss:.3f}, mAP@0.5 {stats.map50 or 0:.3f}"
            + (f" ({note})" if note else ""),
        )

    result = train_detector(
        data.train, data.val, data.classes, config, progress=epoch, cancel=ctx.cancel, settings=ctx.settings,
        checkpoint=checkpoint,
    )  # fmt: skip
    history = [h.as_dict() for h in result.history]
    if ctx.handed_back():  # the worker is shutting down: the next one resumes from the checkpoint and saves
        return DetectorResult(history=history)
    promotion = promote_new_model(_save(params, ctx, config, data, result), params.activation, ctx)
    return DetectorResult(
        **promotion.model_dump(),
        metrics=result.metrics.as_dict() if result.metrics is not None else None,
        history=history,
        resumed_from_epoch=resumed_from(history, new),
        checkpoint_note=note,
        n_train=len(data.train),
        n_val=len(data.val),
        classes=data.classes,
    )


class PipelineComparisonParams(Params):
    dataset: str  # a YOLO dataset folder on the server
    models: dict[str, str] = Field(min_length=1, max_length=8)  # pipeline name -> model id
    split: str | None = None  # default: valid, else test, else train
    limit: int | None = Field(default=None, ge=1)


class PipelineComparisonResult(Result):
    dataset: str
    scores: list[PipelineScore] = Field(default_factory=list)


def run_pipeline_comparison(params: PipelineComparisonParams, ctx: JobContext) -> PipelineComparisonResult:
    """Score the pipelines on the same images of a YOLO dataset (under the import roots unless the operator's)."""
    from core.detector.compare import compare_on_yolo
    from core.import_roots import ImportRoots, check_import

    dataset = check_import(ImportRoots.for_acting_user(ctx.settings), params.dataset, "yolo")
    scores = compare_on_yolo(
        ctx.registry,
        ctx.settings,
        dataset,
        params.models,
        split=params.split,
        limit=params.limit,
        progress=ctx.progress,
        cancel=ctx.cancel,
    )
    return PipelineComparisonResult(dataset=str(dataset), scores=scores)


DETECTOR_TRAINING_KIND = JobKind(
    DETECTOR_TRAINING,
    "Grid detector training",
    DetectorParams,
    DetectorResult,
    Permission.TRAIN,
    run_detector_training,
    resumable=True,
    on_finish=remove_checkpoint,
)
PIPELINE_COMPARISON_KIND = JobKind(
    PIPELINE_COMPARISON,
    "Pipeline comparison",
    PipelineComparisonParams,
    PipelineComparisonResult,
    Permission.TRAIN,
    run_pipeline_comparison,
    lane=SHORT,
)
