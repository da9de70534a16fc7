"""What the torch training kinds share (ResNet, the detector, face-api fine-tuning): the start of a job on the
store's labeled faces, the per-epoch checkpoint of a resumable job, and the comparison with the active model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from core.auth import Permission
from core.jobs.contract import Activation, JobContext, Params, PromotionResult

if TYPE_CHECKING:
    from core.progress import ProgressFn
    from core.store.repository import Filters


def set_threads(n: int) -> None:
    if n > 0:
        import torch

        torch.set_num_threads(n)


def job_checkpoint(params: Params, data_hash: str, ctx: JobContext) -> tuple[Any, str]:
    """The job's per-epoch checkpoint (None when run inline by the CLI, which has no job to resume) and a note for
    its message: resuming, or starting over because a checkpoint of other parameters or data was there."""
    from core.training.checkpoint import EpochCheckpoint, checkpoint_key, job_folder

    if ctx.job_id is None:
        return None, ""
    checkpoint = EpochCheckpoint(
        job_folder(ctx.settings, ctx.job_id), checkpoint_key(params.model_dump(mode="json"), data_hash)
    )
    note = checkpoint.begin()
    if note:
        ctx.progress(ctx.done, ctx.total, note)
    return checkpoint, note


def resumed_from(history: list[dict[str, Any]], new: list[dict[str, Any]]) -> int:
    """The epoch a run resumed after (0: it started at epoch 1)."""
    return len(history) - len(new)


def remove_checkpoint(_params: Any, ctx: JobContext) -> None:
    from core.training.checkpoint import remove_job_folder

    if ctx.job_id is not None:
        remove_job_folder(ctx.settings, ctx.job_id)


def promote_new_model(
    model_id: str, policy: Activation, ctx: JobContext, filters: Filters | None = None
) -> PromotionResult:
    """Score the new model beside the active one on the same held-out images and activate it as `policy` says (a
    cancelled run is never activated); what the result shows of it."""
    from core.training.promotion import promote

    ctx.progress(ctx.total, ctx.total, "comparing with the active model")
    policy = "never" if ctx.cancelled() else policy
    promotion = promote(ctx.registry, ctx.store, model_id, policy=policy, filters=filters)
    return PromotionResult(
        model_id=model_id,
        activated=promotion.activated,
        activation_message=promotion.message,
        comparison=promotion.comparison.model_dump(mode="json") if promotion.comparison else None,
    )


class StoreTrainingParams(Protocol):
    """What a job that trains on the store's labeled faces is asked: which faces, how many threads, activation."""

    threads: int
    emotions: list[str]
    sources: list[str]
    activation: Activation


@dataclass(frozen=True)
class StoreTraining:
    """The start of a job that trains on the store's labeled faces."""

    filters: Filters  # the trainable faces of the asked emotions and sources
    cropping: ProgressFn  # reports the crop loading as step 0 of `epochs`


def start_store_training(params: StoreTrainingParams, ctx: JobContext, epochs: int) -> StoreTraining:
    """The role check, the thread count, the faces to train on and the cropping progress."""
    from core.auth import require
    from core.schema import EXTRACTION_OK, TRAINABLE_STATUSES
    from core.store.repository import Filters

    require(Permission.TRAIN)
    set_threads(params.threads)
    filters = Filters(
        emotions=params.emotions,
        sources=params.sources,
        statuses=list(TRAINABLE_STATUSES),
        extraction_states=[EXTRACTION_OK],
        labeled_only=True,
    )
    return StoreTraining(filters, lambda d, t, _m="": ctx.progress(0, epochs, f"cropping faces {d}/{t}"))


def promote_store_model(model_id: str, params: StoreTrainingParams, ctx: JobContext) -> PromotionResult:
    """`promote_new_model`, comparing on the held-out faces of the emotions and sources the model was trained on."""
    from core.store.repository import Filters

    filters = Filters(emotions=params.emotions, sources=params.sources)
    return promote_new_model(model_id, params.activation, ctx, filters)
