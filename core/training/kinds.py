"""The landmark training job (a grid-search comparison of landmark models, the best one then compared with the
active model) and the comparison of a saved model with the active one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from core.auth import Permission
from core.jobs.contract import SHORT, Activation, JobContext, JobKind, Params, Result

if TYPE_CHECKING:
    from core.training.compare import ComparisonResult
    from core.training.data import TrainingData

LANDMARK_TRAINING = "landmark_training"
MODEL_COMPARISON = "model_comparison"


class LandmarkTrainingParams(Params):
    models: list[str] = Field(description="landmark models to compare (names of core.training.zoo)")
    feature_sets: list[str] = Field(description="feature sets to compare them on")
    preset: str = Field(default="quick", description="grid-search preset")
    folds: int | None = Field(default=None, ge=2, description="cross-validation folds (default: the preset's)")
    emotions: list[str] = Field(default_factory=list, description="only these emotions (default: all)")
    sources: list[str] = Field(default_factory=list, description="only images of these sources (default: all)")
    grids: dict[str, dict[str, list[Any]]] = Field(default_factory=dict)  # per model; empty: the preset's
    seed: int = Field(default=0, description="random seed of the split and the search")
    n_jobs: int = Field(default=1, ge=1, description="parallel grid-search jobs")
    activation: Activation = "never"  # the best model, compared with the active one on the same held-out images
    # The images of that comparison: a suite (None: the last used one, if any), or the held-out split (use_suite off).
    suite: str | None = None
    use_suite: bool = True


class LandmarkTrainingResult(Result):
    """Also what the Train page keeps as a user's last comparison (core.training.last_comparison)."""

    reports: list[dict[str, Any]] = Field(default_factory=list)  # core.training.report.ModelReport fields
    holdout: str = ""
    best: str | None = None  # the best model's id
    best_name: str | None = None
    best_macro_f1: float | None = None
    activated: bool = False
    activation_message: str = ""
    comparison: dict[str, Any] | None = None  # core.training.promotion.Comparison as JSON
    n_faces: int = 0
    class_counts: dict[str, int] = Field(default_factory=dict)
    grouped: bool = False


def _load_data(params: LandmarkTrainingParams, ctx: JobContext) -> TrainingData:
    from core.store.repository import Filters
    from core.training.data import from_store
    from core.training.zoo import HYBRID_MODELS

    if params.suite is not None and params.use_suite:
        from core.suites.manage import get_suite

        get_suite(ctx.store, params.suite)  # a misspelt suite is said before the training, not after
    filters = Filters(emotions=params.emotions, sources=params.sources)
    # faceapi_blend reads face-api's network rows too (computed once per face, cached under the data root).
    return from_store(ctx.store, filters, network=any(m in HYBRID_MODELS for m in params.models))


def _compare(params: LandmarkTrainingParams, ctx: JobContext, data: TrainingData) -> ComparisonResult:
    """The grid search; each model is saved as it finishes, so a cancel keeps those."""
    from core.training.compare import compare_models
    from core.training.landmark_artifact import save_report

    def save(result: Any, report: Any) -> None:
        save_report(ctx.registry, result, report, data_sources=data.sources, job_id=ctx.job_id)

    return compare_models(
        data,
        models=params.models,
        feature_sets=params.feature_sets,
        preset_name=params.preset,
        grids=params.grids or None,
        folds=params.folds,
        seed=params.seed,
        n_jobs=params.n_jobs,
        progress=ctx.progress,
        cancel=ctx.cancel,
        on_model=save,
    )


def run_landmark_training(params: LandmarkTrainingParams, ctx: JobContext) -> LandmarkTrainingResult:
    """Compare landmark models by grid search. The best one is then scored beside the active model and activated
    as `activation` says (never, by default)."""
    from core.auth import require
    from core.store.repository import Filters
    from core.training.landmark_artifact import save_comparison
    from core.training.last_comparison import save_last_comparison
    from core.training.promotion import promote

    user = require(Permission.TRAIN)
    data = _load_data(params, ctx)
    if ctx.job_id is not None and ctx.attempt > 1:
        ctx.registry.discard_job_models(ctx.job_id)  # an earlier attempt was killed: this one saves the whole set
    result = _compare(params, ctx, data)
    save_comparison(ctx.registry, result, data_sources=data.sources, job_id=ctx.job_id)
    best = result.best
    out = LandmarkTrainingResult(
        reports=[r.to_dict() for r in result.reports],
        holdout=result.holdout,
        best=best.model_id if best else None,
        best_name=best.name if best else None,
        best_macro_f1=best.macro_f1 if best else None,
        n_faces=len(data),
        class_counts=data.class_counts(),
        grouped=data.groups is not None,
    )
    if best is not None and best.model_id:
        ctx.progress(ctx.total, ctx.total, "comparing the best model with the active one")
        policy = "never" if ctx.cancelled() else params.activation
        filters = Filters(emotions=params.emotions, sources=params.sources)
        promotion = promote(
            ctx.registry,
            ctx.store,
            best.model_id,
            policy=policy,
            filters=filters,
            seed=params.seed,
            suite=params.suite,
            use_suite=params.use_suite,
            data=data,  # without a suite: the very split the best model was chosen on
        )
        # Each figure says which images it is measured on: the split training held out picks the best model, the
        # comparison's own set (a suite, else that split) decides the activation.
        headline = f"best: {best.name}, macro-F1 {best.macro_f1:.3f} on the held-out split; {promotion.message}"
        ctx.progress(ctx.total, ctx.total, headline)
        out.activated, out.activation_message = promotion.activated, promotion.message
        out.comparison = promotion.comparison.model_dump(mode="json") if promotion.comparison else None
    # The Train page shows it when no job is on record.
    save_last_comparison(ctx.registry, user.id, out.model_dump(mode="json"))
    return out


def discard_training(params: LandmarkTrainingParams, ctx: JobContext) -> None:
    """After a kill (runner death, cancel by force, timeout): the attempt's models go, so none is left unfinished."""
    if ctx.job_id is not None:
        ctx.registry.discard_job_models(ctx.job_id)


class ModelComparisonParams(Params):
    candidate_id: str = Field(min_length=1)


class ModelComparisonResult(Result):
    comparison: dict[str, Any]  # core.training.promotion.Comparison as JSON


def run_model_comparison(params: ModelComparisonParams, ctx: JobContext) -> ModelComparisonResult:
    """Score the candidate and the active model on the same held-out faces; saved beside the candidate."""
    from core.training.promotion import compare_with_active

    ctx.progress(0, 1, f"scoring {params.candidate_id} and the active model on the held-out faces")
    comparison = compare_with_active(ctx.registry, ctx.store, params.candidate_id)
    ctx.progress(1, 1, comparison.headline())
    return ModelComparisonResult(comparison=comparison.model_dump(mode="json"))


LANDMARK_TRAINING_KIND = JobKind(
    LANDMARK_TRAINING,
    "Landmark model comparison",
    LandmarkTrainingParams,
    LandmarkTrainingResult,
    Permission.TRAIN,
    run_landmark_training,
    on_killed=discard_training,
)
MODEL_COMPARISON_KIND = JobKind(
    MODEL_COMPARISON,
    "Comparison with the active model",
    ModelComparisonParams,
    ModelComparisonResult,
    Permission.TRAIN,
    run_model_comparison,
    lane=SHORT,
)
