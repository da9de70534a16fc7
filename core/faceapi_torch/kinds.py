"""The job kind that fine-tunes face-api's expression network on the store's faces (registry kind
"faceapi_finetuned"). The CLI (`python -m core image train --backbone faceapi`) runs it inline, the Train page's
image tab through a worker."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.auth import Permission
from core.jobs.contract import Activation, JobContext, JobKind, Params, TrainedModelResult
from core.training.store_training import promote_store_model, start_store_training

FACEAPI_FINETUNING = "faceapi_finetuning"


class FineTuneParams(Params):
    mode: Literal["head", "last", "all"] = Field(
        default="last", description="what trains: the head, the last block too, or all of the network"
    )
    epochs: int = Field(default=6, ge=1, description="training epochs")
    batch_size: int = Field(default=32, ge=1, description="batch size")
    lr: float = Field(default=1e-3, gt=0, description="learning rate of the head")
    backbone_lr: float = Field(default=1e-4, gt=0, description="learning rate of the network's own layers")
    patience: int = Field(default=2, ge=0, description="stop after N epochs without a better validation macro-F1")
    flip: bool = Field(default=False, description="add horizontally flipped crops")
    # Share of the fine-tuned weights (WiSE-FT); 1: fine-tuned only.
    wise: float = Field(default=1.0, ge=0, le=1, description="share of the fine-tuned weights (WiSE-FT)")
    device: str = Field(default="auto", description="cpu, cuda or auto")
    threads: int = Field(default=0, ge=0, description="torch CPU threads (0: torch's default)")
    emotions: list[str] = Field(default_factory=list, description="only these emotions (default: all)")
    sources: list[str] = Field(default_factory=list, description="only images of these sources (default: all)")
    activation: Activation = "never"  # compared with the active model; activated as this says


class FineTuneResult(TrainedModelResult):
    best_epoch: int | None = None
    network_alone_val_macro_f1: float | None = None
    validation: str = ""
    n_crops: int = 0
    classes: dict[str, int] = Field(default_factory=dict)
    skipped: int = 0


def run_faceapi_finetuning(params: FineTuneParams, ctx: JobContext) -> FineTuneResult:
    from core.faceapi_torch.model import save_finetuned
    from core.faceapi_torch.train import FineTuneConfig, FineTuneEpoch, class_counts, load_face_crops, train_finetune

    config = FineTuneConfig(**params.model_dump(exclude={"threads", "emotions", "sources", "activation"}))
    start = start_store_training(params, ctx, config.epochs)
    data = load_face_crops(ctx.store, start.filters, progress=start.cropping)

    def epoch(stats: FineTuneEpoch, total: int) -> None:
        f1 = stats.val_macro_f1
        what = "the network alone" if stats.epoch == 0 else f"epoch {stats.epoch}/{total}"
        ctx.progress(stats.epoch, total, what + (f": val macro-F1 {f1:.3f}" if f1 is not None else ""))

    result = train_finetune(data, ctx.settings, config, progress=epoch, cancel=ctx.cancel)
    card = save_finetuned(ctx.registry, result, data_sources=["store"])
    promotion = promote_store_model(card.id, params, ctx)
    alone = result.history[0].val_macro_f1 if result.history and result.history[0].epoch == 0 else None
    return FineTuneResult(
        **promotion.model_dump(),
        metrics=result.metrics,
        best_epoch=result.best_epoch,
        network_alone_val_macro_f1=alone,
        history=[h.as_dict() for h in result.history],
        validation=result.split_note,
        n_crops=len(data.labels),
        classes=class_counts(data),
        skipped=len(data.skipped),
    )


FACEAPI_FINETUNING_KIND = JobKind(
    FACEAPI_FINETUNING, "face-api fine-tuning", FineTuneParams, FineTuneResult, Permission.TRAIN, run_faceapi_finetuning
)
