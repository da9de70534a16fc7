"""The ResNet-50 (or EfficientNet-Lite0) training job on the store's face crops: the one train-and-save recipe
(`python -m core resnet` runs it inline, the Train page through a worker). Resumable from its per-epoch checkpoint."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from core.auth import Permission
from core.jobs.contract import Activation, JobContext, JobKind, Params, TrainedModelResult
from core.training.store_training import (
    job_checkpoint,
    promote_store_model,
    remove_checkpoint,
    resumed_from,
    start_store_training,
)

RESNET_TRAINING = "resnet_training"


class ResNetParams(Params):
    # Sizes are checked by ResNetConfig itself, with its own messages.
    epochs: int = Field(default=10, description="training epochs")
    head_epochs: int = Field(default=2, ge=0, description="frozen-backbone epochs first (with ImageNet weights)")
    freeze_backbone: bool = Field(default=False, description="train only the head (fast on CPU)")
    image_size: int = Field(default=224, description="input size in pixels")
    batch_size: int = Field(default=32, description="batch size")
    lr: float = Field(default=1e-3, gt=0, description="learning rate")
    patience: int = Field(default=3, ge=0, description="stop after N epochs without a better validation macro-F1")
    use_imagenet: bool = Field(default=True, description="start from ImageNet weights when present")
    backbone: Literal["resnet50", "efficientnet_lite0"] = Field(default="resnet50", description="the network")
    device: str = Field(default="auto", description="cpu, cuda or auto")
    threads: int = Field(default=0, ge=0, description="torch CPU threads (0: torch's default)")
    emotions: list[str] = Field(default_factory=list, description="only these emotions (default: all)")
    sources: list[str] = Field(default_factory=list, description="only images of these sources (default: all)")
    activation: Activation = "never"  # compared with the active model; activated as this says


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
