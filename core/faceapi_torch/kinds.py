"""The job kind that fine-tunes face-api's expression network on the store's faces (registry kind
"faceapi_finetuned"). The CLI (`python -m core image train --backbone faceapi`) runs it inline, the Train page's
image tab through a worker."""

from __future__ import annotations

from pydantic import Field

from core.auth import Permission
from core.faceapi_torch.params import FineTuneParams
from core.jobs.contract import JobContext, JobKind, TrainedModelResult
from core.training.store_training import promote_store_model, start_store_training

FACEAPI_FINETUNING = "faceapi_finetuning"


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
