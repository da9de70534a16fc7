"""The ResNet-50 (or EfficientNet-Lite0) training job on the store's face crops: the one train-and-save recipe
(`python -m core resnet` runs it inline, the Train page through a worker). Resumable from its per-epoch checkpoint."""

from __future__ import annotations

from typing import Any

from core.auth import Permission
from core.jobs.contract import JobContext, JobKind, TrainedModelResult
from core.training.resnet_params import ResNetParams
from core.training.store_training import (
    job_checkpoint,
    promote_store_model,
    remove_checkpoint,
    resumed_from,
    start_store_training,
)

RESNET_TRAINING = "resnet_training"


class ResNetResult(TrainedModelResult):
    best_epoch: int | None = None
    resumed_from_epoch: int = 0
    checkpoint_note: str = ""
    n_crops: int = 0
    skipped: int = 0


def run_resnet_training(params: ResNetParams, ctx: JobContext) -> ResNetResult:
    from core.training.resnet import ResNetConfig, ResNetEpoch, load_crops, save_resnet, train_resnet

    config = ResNetConfig(**params.model_dump(exclude={"threads", "emotions", "sources", "activation"}))
    start = start_store_training(params, ctx, config.epochs)
    data = load_crops(ctx.store, start.filters, size=config.image_size, progress=start.cropping)
    checkpoint, note = job_checkpoint(params, data.data_hash, ctx)
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

    result = train_resnet(data, ctx.settings, config, progress=epoch, cancel=ctx.cancel, checkpoint=checkpoint)
    history = [h.as_dict() for h in result.history]
    if ctx.handed_back():  # the worker is shutting down: the next one resumes from the checkpoint and saves
        return ResNetResult(history=history)
    card = save_resnet(ctx.registry, result, data_sources=["store"])
    promotion = promote_store_model(card.id, params, ctx)
    return ResNetResult(
        **promotion.model_dump(),
        metrics=result.metrics,
        best_epoch=result.best_epoch,
        history=history,
        resumed_from_epoch=resumed_from(history, new),
        checkpoint_note=note,
        n_crops=len(data.images),
        skipped=len(data.skipped),
    )


# Resumable: a requeued job goes on after its last checkpointed epoch (core.training.checkpoint).
RESNET_TRAINING_KIND = JobKind(
    RESNET_TRAINING,
    "ResNet-50 training",
    ResNetParams,
    ResNetResult,
    Permission.TRAIN,
    run_resnet_training,
    resumable=True,
    on_finish=remove_checkpoint,
)
