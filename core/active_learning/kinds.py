"""Job kinds of active learning: LLM labeling, pool scoring, the sampling simulation, retraining rounds and the
pool's import. Each calls the existing core function (heavy imports inside the run functions)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import Field

from core.active_learning.round_result import RoundResult
from core.auth import Permission
from core.generation.kinds import GEMINI_KEY
from core.jobs.contract import SHORT, Activation, JobContext, JobKind, Params, Result

LLM_LABELING = "llm_labeling"
AL_SCORING = "al_scoring"
AL_SIMULATION = "al_simulation"
AL_ROUND = "al_round"
AL_POOL = "al_pool"


class LabelingParams(Params):
    model: str | None = Field(default=None, description="Gemini model (default: the settings')")
    image_ids: list[int] | None = Field(default=None, description="only these queued images (default: all)")
    relabel: bool = Field(default=False, description="ask again for images that already have a proposal")
    concurrency: int | None = Field(default=None, ge=1, description="requests in flight (default GEMINI_CONCURRENCY)")
    rpm: float | None = Field(default=None, gt=0, description="requests per minute (default GEMINI_RPM)")


class LabelingResult(Result):
    summary: str = ""
    proposed: int = 0
    failed: int = 0
    failures: list[tuple[int, str]] = Field(default_factory=list)  # (image id, reason), the first 200


def run_llm_labeling(params: LabelingParams, ctx: JobContext) -> LabelingResult:
    """Gemini label proposals for the queued images; resumable (images with a proposal are skipped)."""
    from core.active_learning.labeling import label_queue
    from core.gemini.client import resolve_key
    from core.gemini.ratelimit import RequestLimiter

    settings = ctx.settings
    api_key = ctx.secrets.get(GEMINI_KEY) or resolve_key(settings)
    limiter = RequestLimiter(params.concurrency or settings.gemini_concurrency, params.rpm or settings.gemini_rpm)
    report = label_queue(
        ctx.store,
        settings,
        api_key,
        limiter=limiter,
        model=params.model,
        image_ids=params.image_ids,
        relabel=params.relabel,
        progress=ctx.progress,
        cancel=ctx.cancel,
    )
    ctx.progress(ctx.done, ctx.total, report.summary())
    return LabelingResult(
        summary=report.summary(), proposed=report.proposed, failed=report.failed, failures=report.failures[:200]
    )


class ScoringParams(Params):
    model_id: str | None = Field(default=None, description="the model that scores (default: the active one)")
    strategy: str = Field(default="entropy", description="least_confidence, margin or entropy")
    k: int = Field(default=20, ge=1, description="images to queue")
    min_distance: float | None = Field(default=None, ge=0, description="near-duplicate landmark distance")


class ScoringResult(Result):
    """core.active_learning.review_queue.QueueReport's fields, with the scoring model and a summary."""

    model_id: str
    summary: str = ""
    pool: int = 0
    scored: int = 0
    queued: int = 0
    near_duplicates: list[tuple[int, int]] = Field(default_factory=list)
    returned: int = 0
    no_face: int = 0
    not_extracted: int = 0
    unscored: int = 0


def run_al_scoring(params: ScoringParams, ctx: JobContext) -> ScoringResult:
    from core.active_learning.diversity import DEFAULT_MIN_DISTANCE
    from core.active_learning.review_queue import build_queue
    from core.active_learning.scoring_model import load_scoring_model
    from core.auth import require

    require(Permission.TRAIN)
    model_id, model = load_scoring_model(ctx.registry, params.model_id)
    ctx.progress(0, 1, f"scoring the pool with {model_id}")
    min_distance = DEFAULT_MIN_DISTANCE if params.min_distance is None else params.min_distance
    report = build_queue(
        ctx.store, model, model_id=model_id, strategy=params.strategy, k=params.k, min_distance=min_distance
    )
    ctx.progress(1, 1, report.summary())
    return ScoringResult(model_id=model_id, summary=report.summary(), **asdict(report))


class SimulationParams(Params):
    strategy: str = Field(default="margin", description="least_confidence, margin or entropy")
    initial: int = Field(default=20, ge=1, description="labels revealed before the first round")
    batch: int = Field(default=20, ge=1, description="labels revealed each round")
    rounds: int = Field(default=10, ge=1, description="rounds")
    classifier: str = Field(default="logistic_regression", description="a model of the training zoo")
    feature_sets: list[str] = Field(default_factory=lambda: ["blendshapes"], description="feature sets")
    seed: int = Field(default=0, description="random seed")
    # A landmark cache (bench/train.py format) instead of the store's labeled faces.
    npz: str | None = Field(default=None, description="a landmark cache (.npz) instead of the store's faces")


class SimulationRow(Result):
    round: int
    labels: int
    uncertainty_f1: float
    random_f1: float


class SimulationJobResult(Result):
    """core.active_learning.simulation.SimulationResult's fields, with its rows and the data's size."""

    strategy: str
    labels: list[int] = Field(default_factory=list)
    uncertainty_f1: list[float] = Field(default_factory=list)
    random_f1: list[float] = Field(default_factory=list)
    held_out: int = 0
    pool: int = 0
    cancelled: bool = False
    rows: list[SimulationRow] = Field(default_factory=list)
    labels_to_match_random: int | None = None
    n_faces: int = 0
    n_emotions: int = 0


def run_al_simulation(params: SimulationParams, ctx: JobContext) -> SimulationJobResult:
    """Uncertainty against random sampling on labeled faces (the store's, or a landmark cache's), their labels
    revealed round by round."""
    from core.active_learning.simulation import load_landmark_cache, simulate

    if params.npz is not None:
        from core.import_roots import ImportRoots

        path = ImportRoots.for_acting_user(ctx.settings).check(Path(params.npz), "landmark cache")
        x, y, groups = load_landmark_cache(path)
    else:
        from core.training.data import from_store

        data = from_store(ctx.store)
        x, y, groups = data.x, data.y, data.groups
    n_emotions = len(set(y.tolist()))
    ctx.progress(0, params.rounds + 1, f"{len(y)} labeled faces, {n_emotions} emotions")
    options = params.model_dump(include={"strategy", "initial", "batch", "rounds", "feature_sets", "seed"})
    result = simulate(
        x, y, groups=groups, model_name=params.classifier, progress=ctx.progress, cancel=ctx.cancel, **options
    )
    return SimulationJobResult(
        **asdict(result),
        rows=[SimulationRow.model_validate(r) for r in result.rows()],
        labels_to_match_random=result.labels_to_match_random(),
        n_faces=len(y),
        n_emotions=n_emotions,
    )


class PoolParams(Params):
    folder: str = Field(description="folder of unlabeled images on the server")


class PoolExtraction(Result):
    ok: int = 0
    no_face: int = 0
    errors: int = 0
    processed: int = 0


class PoolResult(Result):
    summary: str = ""
    skipped: list[tuple[str, str]] = Field(default_factory=list)  # (name, reason), the first 500
    extracted: PoolExtraction | None = None  # None: cancelled before the extraction


def run_al_pool(params: PoolParams, ctx: JobContext) -> PoolResult:
    """Import a folder into the unlabeled pool, then extract the landmarks of what is not yet extracted. Resumable:
    images already in the store are recognised by their content and not added twice; extraction skips what is done."""
    from core.active_learning.pool import extract_pool, import_pool_folder
    from core.import_roots import ImportRoots, check_import

    folder = check_import(ImportRoots.for_acting_user(ctx.settings), params.folder, "folder")

    def importing(done: int, total: int, message: str = "", /) -> None:
        ctx.progress(done, total, message or f"importing {done}/{total}")

    report = import_pool_folder(ctx.store, folder, progress=importing, cancel=ctx.cancel)
    extracted = None
    if not ctx.cancelled():
        ctx.progress(0, 0, "extracting landmarks")
        batch = extract_pool(ctx.store, progress=ctx.progress, cancel=ctx.cancel)
        extracted = PoolExtraction(ok=batch.ok, no_face=batch.no_face, errors=batch.errors, processed=batch.processed)
    ctx.progress(ctx.done, ctx.total, report.summary())
    return PoolResult(summary=report.summary(), skipped=report.skipped[:500], extracted=extracted)


class RoundParams(Params):
    # None: the rounds' own defaults (core.active_learning.rounds.retrain).
    classifier: str | None = Field(default=None, description="a model of the training zoo (default: the rounds')")
    feature_sets: list[str] | None = Field(default=None, description="feature sets (default: the rounds')")
    seed: int = Field(default=0, description="random seed")
    activation: Activation = "never"  # the round's model against the active one


def run_al_round(params: RoundParams, ctx: JobContext) -> RoundResult:
    """Retrain on every labeled training face, score on the held-out set, record the round; the model is compared
    with the active one and activated as `activation` says (never, by default)."""
    from core.active_learning.rounds import retrain

    kwargs: dict[str, Any] = {"seed": params.seed, "activation": params.activation}
    if params.classifier:
        kwargs["model_name"] = params.classifier
    if params.feature_sets:
        kwargs["feature_sets"] = params.feature_sets
    ctx.progress(0, 1, "retraining")
    result = retrain(ctx.store, ctx.registry, **kwargs)
    ctx.progress(
        1,
        1,
        f"Round {result.round_id}: macro-F1 {result.macro_f1:.3f} with {result.n_labels} labels "
        f"(model {result.model_id}); {result.activation_message}",
    )
    return result


LLM_LABELING_KIND = JobKind(
    LLM_LABELING, "LLM labeling", LabelingParams, LabelingResult, Permission.LLM_LABEL, run_llm_labeling, True
)
AL_SCORING_KIND = JobKind(
    AL_SCORING, "Active-learning scoring", ScoringParams, ScoringResult, Permission.TRAIN, run_al_scoring, lane=SHORT
)
AL_SIMULATION_KIND = JobKind(
    AL_SIMULATION, "Sampling simulation", SimulationParams, SimulationJobResult, Permission.TRAIN, run_al_simulation
)
AL_ROUND_KIND = JobKind(AL_ROUND, "Retraining round", RoundParams, RoundResult, Permission.TRAIN, run_al_round)
AL_POOL_KIND = JobKind(
    AL_POOL, "Pool import and extraction", PoolParams, PoolResult, Permission.IMPORT, run_al_pool, True
)
