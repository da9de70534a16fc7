"""The job kind that fine-tunes face-api's expression network on the store's faces (registry kind
"faceapi_finetuned"). The CLI (`python -m core image train --backbone faceapi`) runs it inline, the Train page's
image tab through a worker."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from core.auth import Permission
from core.jobs.kinds import Activation, Params
from core.jobs.registry import JobContext, JobKind, register
from core.jobs.torch_kinds import _promote_store_model, _start_store_training

FACEAPI_FINETUNING = "faceapi_finetuning"


class FineTuneParams(Params):
    mode: Literal["head", "last", "all"] = "last"
    epochs: int = Field(default=6, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    backbone_lr: float = Field(default=1e-4, gt=0)
    patience: int = Field(default=2, ge=0)
    flip: bool = False
    wise: float = Field(default=1.0, ge=0, le=1)  # share of the fine-tuned weights (WiSE-FT); 1: fine-tuned only
    device: str = "auto"
    threads: int = Field(default=0, ge=0)
    emotions: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    activation: Activation = "never"  # compared with the active model; activated as this says


def run_faceapi_finetuning(params: FineTuneParams, ctx: JobContext) -> dict[str, Any]:
    from core.faceapi_torch.model import save_finetuned
    from core.faceapi_torch.train import FineTuneConfig, FineTuneEpoch, class_counts, load_face_crops, train_finetune
    from core.registry import Registry

    config = FineTuneConfig(
        mode=params.mode,
        epochs=params.epochs,
        batch_size=params.batch_size,
        lr=params.lr,
        backbone_lr=params.backbone_lr,
        patience=params.patience,
        flip=params.flip,
        wise=params.wise,
        device=params.device,
    )
    start = _start_store_training(params, ctx, config.epochs)
    store = start.store
    data = load_face_crops(store, start.filters, progress=start.cropping)

    def epoch(stats: FineTuneEpoch, total: int) -> None:
        f1 = stats.val_macro_f1
        what = "the network alone" if stats.epoch == 0 else f"epoch {stats.epoch}/{total}"
        ctx.progress(stats.epoch, total, what + (f": val macro-F1 {f1:.3f}" if f1 is not None else ""))

    result = train_finetune(data, store.settings, config, progress=epoch, cancel=ctx.cancel)
    registry = Registry(store.settings.models_dir)
    card = save_finetuned(registry, result, data_sources=["store"])
    promotion = _promote_store_model(registry, store, card.id, params, ctx)
    alone = result.history[0].val_macro_f1 if result.history and result.history[0].epoch == 0 else None
    return {
        "model_id": card.id,
        **promotion,
        "metrics": result.metrics,
        "best_epoch": result.best_epoch,
        "network_alone_val_macro_f1": alone,
        "history": [h.as_dict() for h in result.history],
        "validation": result.split_note,
        "n_crops": len(data.labels),
        "classes": class_counts(data),
        "skipped": len(data.skipped),
    }


register(JobKind(FACEAPI_FINETUNING, "face-api fine-tuning", FineTuneParams, Permission.TRAIN, run_faceapi_finetuning))
