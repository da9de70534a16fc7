"""The torch models' job kinds: ResNet-50 and the grid detector, each with its one train-and-save recipe (the CLI
runs it inline, the Train page through a worker)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import Field

from core.auth import Permission
from core.jobs.kinds import Activation, Params
from core.jobs.registry import JobContext, JobKind, register

if TYPE_CHECKING:
    from core.progress import ProgressFn
    from core.store import Store
    from core.store.repository import Filters

RESNET_TRAINING = "resnet_training"
DETECTOR_TRAINING = "detector_training"


class ResNetParams(Params):
    # Sizes are checked by ResNetConfig itself, with its own messages.
    epochs: int = 10
    head_epochs: int = Field(default=2, ge=0)
    freeze_backbone: bool = False
    image_size: int = 224
    batch_size: int = 32
    lr: float = Field(default=1e-3, gt=0)
    patience: int = Field(default=3, ge=0)
    use_imagenet: bool = True
    backbone: Literal["resnet50", "efficientnet_lite0"] = "resnet50"
    device: str = "auto"
    threads: int = Field(default=0, ge=0)
    emotions: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    activation: Activation = "never"  # compared with the active model; activated as this says


def _threads(n: int) -> None:
    if n > 0:
        import torch

        torch.set_num_threads(n)


def _checkpoint(params: Params, data_hash: str, ctx: JobContext) -> tuple[Any, str]:
    """The job's per-epoch checkpoint (None when run inline by the CLI, which has no job to resume) and a note for
    its message: resuming, or starting over because a checkpoint of other parameters or data was there."""
    from core.settings import get_settings
    from core.training.checkpoint import EpochCheckpoint, checkpoint_key, job_folder

    if ctx.job_id is None:
        return None, ""
    checkpoint = EpochCheckpoint(
        job_folder(get_settings(), ctx.job_id), checkpoint_key(params.model_dump(mode="json"), data_hash)
    )
    note = checkpoint.begin()
    if note:
        ctx.progress(ctx.done, ctx.total, note)
    return checkpoint, note


def _resumed_from(history: list[dict[str, Any]], new: list[dict[str, Any]]) -> int:
    """The epoch a run resumed after (0: it started at epoch 1)."""
    return len(history) - len(new)


def remove_checkpoint(_params: Any, job_id: int) -> None:
    from core.settings import get_settings
    from core.training.checkpoint import remove_job_folder

    remove_job_folder(get_settings(), job_id)


def _promote(
    registry: Any, store: Any, model_id: str, policy: Activation, ctx: JobContext, filters: Any = None
) -> dict[str, Any]:
    """Score the new model beside the active one on the same held-out images and activate it as `policy` says (a
    cancelled run is never activated); what the result shows of it."""
    from core.training.promotion import promote

    ctx.progress(ctx.total, ctx.total, "comparing with the active model")
    promotion = promote(registry, store, model_id, policy="never" if ctx.cancelled() else policy, filters=filters)
    return {
        "activated": promotion.activated,
        "activation_message": promotion.message,
        "comparison": promotion.comparison.model_dump(mode="json") if promotion.comparison else None,
    }


class StoreTrainingParams(Protocol):
    """What a job that trains on the store's labeled faces is asked: which faces, how many threads, activation."""

    threads: int
    emotions: list[str]
    sources: list[str]
    activation: Activation


@dataclass(frozen=True)
class StoreTraining:
    """The start of a job that trains on the store's labeled faces."""

    store: Store
    filters: Filters  # the trainable faces of the asked emotions and sources
    cropping: ProgressFn  # reports the crop loading as step 0 of `epochs`


def _start_store_training(params: StoreTrainingParams, ctx: JobContext, epochs: int) -> StoreTraining:
    """The role check, the thread count, the store, the faces to train on and the cropping progress."""
    from core.auth import require
    from core.schema import EXTRACTION_OK, TRAINABLE_STATUSES
    from core.store import Store
    from core.store.repository import Filters

    require(Permission.TRAIN)
    _threads(params.threads)
    filters = Filters(
        emotions=params.emotions,
        sources=params.sources,
        statuses=list(TRAINABLE_STATUSES),
        extraction_states=[EXTRACTION_OK],
        labeled_only=True,
    )
    return StoreTraining(Store(), filters, lambda d, t, _m="": ctx.progress(0, epochs, f"cropping faces {d}/{t}"))


def _promote_store_model(
    registry: Any, store: Store, model_id: str, params: StoreTrainingParams, ctx: JobContext
) -> dict[str, Any]:
    """`_promote`, comparing on the held-out faces of the emotions and sources the model was trained on."""
    from core.store.repository import Filters

    return _promote(
        registry, store, model_id, params.activation, ctx, Filters(emotions=params.emotions, sources=params.sources)
    )


def run_resnet_training(params: ResNetParams, ctx: JobContext) -> dict[str, Any]:
    from core.registry import Registry
    from core.training.resnet import ResNetConfig, ResNetEpoch, load_crops, save_resnet, train_resnet

    config = ResNetConfig(
        image_size=params.image_size,
        epochs=params.epochs,
        head_epochs=params.head_epochs,
        freeze_backbone=params.freeze_backbone,
        batch_size=params.batch_size,
        lr=params.lr,
        patience=params.patience,
        use_imagenet=params.use_imagenet,
        device=params.device,
        backbone=params.backbone,
    )
    start = _start_store_training(params, ctx, config.epochs)
    store = start.store
    data = load_crops(store, start.filters, size=config.image_size, progress=start.cropping)
    checkpoint, note = _checkpoint(params, data.data_hash, ctx)
    new: list[dict[str, Any]] = []  # epochs run by this attempt

    def epoch(stats: ResNetEpoch, total: int) -> None:
        new.append(stats.as_dict())
        f1 = stats.val_macro_f1
        ctx.progress(
            stats.epoch,
            total,
            f"epoch {stats.epoch}/{total} ({stats.phase}): loss {stats.train_loss:.3f}"
            + (f", val macro-F1 {f1:.3f}" if f1 is not None else "")
            + (f" ({note})" if note else ""),
        )

    result = train_resnet(data, store.settings, config, progress=epoch, cancel=ctx.cancel, checkpoint=checkpoint)
    history = [h.as_dict() for h in result.history]
    if ctx.handed_back():  # the worker is shutting down: the next one resumes from the checkpoint and saves
        return {"history": history}
    registry = Registry(store.settings.models_dir)
    card = save_resnet(registry, result, data_sources=["store"])
    promotion = _promote_store_model(registry, store, card.id, params, ctx)
    return {
        "model_id": card.id,
        **promotion,
        "metrics": result.metrics,
        "best_epoch": result.best_epoch,
        "history": history,
        "resumed_from_epoch": _resumed_from(history, new),
        "checkpoint_note": note,
        "n_crops": len(data.images),
        "skipped": len(data.skipped),
    }


class DetectorParams(Params):
    yolo: str | None = None  # a YOLO dataset folder; None: the store's labeled faces (train/test status)
    # Sizes are checked by DetectorConfig itself, with its own messages.
    epochs: int = 30
    input_size: int = 192
    batch_size: int = 16
    lr: float = Field(default=3e-3, gt=0)
    patience: int = Field(default=0, ge=0)
    device: str = "auto"
    threads: int = Field(default=0, ge=0)
    augment: bool = True
    backbone: Literal["grid", "efficientnet_lite0"] = "grid"  # efficientnet_lite0: frozen ImageNet features
    expression_head: Literal["grid", "faceapi"] = "grid"  # faceapi: face-api's network names each detected box
    activation: Activation = "never"  # compared with the active model; activated as this says


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


def run_detector_training(params: DetectorParams, ctx: JobContext) -> dict[str, Any]:
    from core.auth import require
    from core.detector.data import samples_from_store, samples_from_yolo, yolo_class_map
    from core.detector.model import model_params, save_detector
    from core.detector.train import DetectorConfig, EpochStats, train_detector
    from core.registry import Registry
    from core.schema import EMOTIONS, STATUS_TEST, STATUS_TRAIN
    from core.settings import get_settings
    from core.store import Store
    from core.store.repository import Filters
    from core.yolo import read_yolo_dataset

    require(Permission.TRAIN)
    _threads(params.threads)
    settings = get_settings()
    config = DetectorConfig(
        input_size=params.input_size,
        epochs=params.epochs,
        batch_size=params.batch_size,
        lr=params.lr,
        patience=params.patience,
        device=params.device,
        augment=params.augment,
        backbone=params.backbone,
    )

    def loading(what: str) -> Any:
        return lambda d, t, _m="": ctx.progress(0, config.epochs, f"loading {what} images {d}/{t}")

    if params.yolo is not None:
        from core.import_roots import ImportRoots, check_import

        root = check_import(ImportRoots.for_acting_user(settings), params.yolo, "yolo")
        ds = read_yolo_dataset(root)
        classes = [e for e in EMOTIONS if e in ds.emotions]
        cmap = yolo_class_map(ds.emotions, classes)
        val_items = ds.splits.get("valid") or ds.splits.get("test") or []
        train = samples_from_yolo(ds.splits["train"], cmap, config.input_size, progress=loading("train"))
        val = samples_from_yolo(val_items, cmap, config.input_size, progress=loading("valid"))
        sources, data_hash = [str(root)], yolo_hash(root)
    else:
        store = Store(settings)
        classes = [e for e in EMOTIONS if e in store.counts_by("emotion")]
        train = samples_from_store(
            store, Filters(statuses=[STATUS_TRAIN], labeled_only=True), classes, config.input_size
        )
        held_out = Filters(statuses=[STATUS_TEST], labeled_only=True)
        val = samples_from_store(store, held_out, classes, config.input_size) if store.count(held_out) else []
        sources, data_hash = ["store"], ""
    checkpoint, note = _checkpoint(params, data_hash or samples_hash(train, val, classes), ctx)
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
        train, val, classes, config, progress=epoch, cancel=ctx.cancel, settings=settings, checkpoint=checkpoint
    )
    history = [h.as_dict() for h in result.history]
    if ctx.handed_back():  # the worker is shutting down: the next one resumes from the checkpoint and saves
        return {"history": history}
    metrics: dict[str, Any] = result.metrics.as_dict() if result.metrics is not None else {}
    metrics.update(
        history=[h.as_dict() for h in result.history], best_epoch=result.best_epoch, train_seconds=result.seconds
    )
    registry = Registry(settings.models_dir)
    card = save_detector(
        registry,
        result.net,
        classes=classes,
        params={
            **model_params(result.net, config.input_size, result.spec, config.widths, config.backbone),
            "expression_head": params.expression_head,
        },
        metrics=metrics,
        data_hash=data_hash,
        data_sources=sources,
        notes="cancelled: best epoch so far" if result.cancelled else "",
    )
    promotion = _promote(registry, Store(settings), card.id, params.activation, ctx)
    return {
        "model_id": card.id,
        **promotion,
        "metrics": result.metrics.as_dict() if result.metrics is not None else None,
        "history": history,
        "resumed_from_epoch": _resumed_from(history, new),
        "checkpoint_note": note,
        "n_train": len(train),
        "n_val": len(val),
        "classes": classes,
    }


# Resumable: a requeued job goes on after its last checkpointed epoch (core.training.checkpoint).
register(
    JobKind(
        RESNET_TRAINING,
        "ResNet-50 training",
        ResNetParams,
        Permission.TRAIN,
        run_resnet_training,
        resumable=True,
        on_finish=remove_checkpoint,
    )
)
register(
    JobKind(
        DETECTOR_TRAINING,
        "Grid detector training",
        DetectorParams,
        Permission.TRAIN,
        run_detector_training,
        resumable=True,
        on_finish=remove_checkpoint,
    )
)
