"""Job kinds that score models rather than train them: a new model against the active one on the store's held-out
faces, and whole pipelines (detector, MediaPipe + landmark model, MediaPipe + ResNet) on a YOLO dataset. Both load
models and run them over many images, so they run in a worker like training does."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core.auth import Permission
from core.jobs.kinds import Params
from core.jobs.registry import SHORT, JobContext, JobKind, register

MODEL_COMPARISON = "model_comparison"
PIPELINE_COMPARISON = "pipeline_comparison"


class ModelComparisonParams(Params):
    candidate_id: str = Field(min_length=1)


def run_model_comparison(params: ModelComparisonParams, ctx: JobContext) -> dict[str, Any]:
    """Score the candidate and the active model on the same held-out faces; saved beside the candidate."""
    from core.registry import Registry
    from core.store import Store
    from core.training.promotion import compare_with_active

    store = Store()
    ctx.progress(0, 1, f"scoring {params.candidate_id} and the active model on the held-out faces")
    comparison = compare_with_active(Registry(store.settings.models_dir), store, params.candidate_id)
    ctx.progress(1, 1, comparison.headline())
    return {"comparison": comparison.model_dump(mode="json")}


class PipelineComparisonParams(Params):
    dataset: str  # a YOLO dataset folder on the server
    models: dict[str, str] = Field(min_length=1, max_length=8)  # pipeline name -> model id
    split: str | None = None  # default: valid, else test, else train
    limit: int | None = Field(default=None, ge=1)


def run_pipeline_comparison(params: PipelineComparisonParams, ctx: JobContext) -> dict[str, Any]:
    """Score the pipelines on the same images of a YOLO dataset (under the import roots unless the operator's)."""
    from core.detector.compare import compare_on_yolo
    from core.import_roots import ImportRoots, check_import
    from core.registry import Registry
    from core.settings import get_settings

    settings = get_settings()
    dataset = check_import(ImportRoots.for_acting_user(settings), params.dataset, "yolo")
    scores = compare_on_yolo(
        Registry(settings.models_dir),
        settings,
        dataset,
        params.models,
        split=params.split,
        limit=params.limit,
        progress=ctx.progress,
        cancel=ctx.cancel,
    )
    return {"dataset": str(dataset), "scores": [s.as_dict() for s in scores]}


register(
    JobKind(
        MODEL_COMPARISON,
        "Comparison with the active model",
        ModelComparisonParams,
        Permission.TRAIN,
        run_model_comparison,
        lane=SHORT,
    )
)
register(
    JobKind(
        PIPELINE_COMPARISON,
        "Pipeline comparison",
        PipelineComparisonParams,
        Permission.TRAIN,
        run_pipeline_comparison,
        lane=SHORT,
    )
)
