"""Job kinds of generation and active learning: Gemini generation, LLM labeling, pool scoring, the sampling
simulation and retraining rounds. Each calls the existing core function. The Gemini key is the server's
(GEMINI_API_KEY) in a worker; a key typed into a page (local mode) lives only in that session, so such a job runs in
the dashboard's process with the key in memory (ui.jobs.run_here)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import Field

from core.auth import Permission
from core.jobs.kinds import Activation, Params
from core.jobs.registry import SHORT, JobContext, JobKind, register

GENERATION = "generation"
LLM_LABELING = "llm_labeling"
AL_SCORING = "al_scoring"
AL_SIMULATION = "al_simulation"
AL_ROUND = "al_round"
AL_POOL = "al_pool"
GEMINI_KEY = "gemini_api_key"  # the name of a session's key in JobContext.secrets


class GenerationParams(Params):
    generation_job_id: int = Field(ge=1)  # the generation job (its template and items) in core.generation's tables
    concurrency: int | None = Field(default=None, ge=1)
    rpm: float | None = Field(default=None, gt=0)
    extract_landmarks: bool = True


def run_generation(params: GenerationParams, ctx: JobContext) -> dict[str, Any]:
    """Generate the job's pending items. Resumable: items already done are never requested again."""
    from core.gemini.client import resolve_key
    from core.generation.runner import run_job
    from core.store import Store

    store = Store()
    # A key typed into the page for its session arrives in memory only; else the server's key (MissingApiKey
    # explains how to set one).
    api_key = ctx.secrets.get(GEMINI_KEY) or resolve_key(store.settings)

    report = run_job(
        params.generation_job_id,
        store=store,
        settings=store.settings,
        api_key=api_key,
        concurrency=params.concurrency,
        rpm=params.rpm,
        progress=ctx.progress,
        cancel=ctx.cancel,
        extract_landmarks=params.extract_landmarks,
    )
    return {
        "generation_job_id": params.generation_job_id,
        "generated": report.generated,
        "failed": report.failed,
        "recovered": report.recovered,
        "extracted": report.extracted,
        "rate": report.rate,
        "failures": [list(f) for f in report.failures[:200]],
    }


class LabelingParams(Params):
    model: str | None = None
    image_ids: list[int] | None = None
    relabel: bool = False
    concurrency: int | None = Field(default=None, ge=1)
    rpm: float | None = Field(default=None, gt=0)


def run_llm_labeling(params: LabelingParams, ctx: JobContext) -> dict[str, Any]:
    """Gemini label proposals for the queued images; resumable (images with a proposal are skipped)."""
    from core.active.labeling import label_queue
    from core.gemini.client import resolve_key
    from core.gemini.ratelimit import RequestLimiter
    from core.store import Store

    store = Store()
    settings = store.settings
    api_key = ctx.secrets.get(GEMINI_KEY) or resolve_key(settings)
    limiter = RequestLimiter(params.concurrency or settings.gemini_concurrency, params.rpm or settings.gemini_rpm)
    report = label_queue(
        store,
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
    return {
        "summary": report.summary(),
        "proposed": report.proposed,
        "failed": report.failed,
        "failures": [list(f) for f in report.failures[:200]],
    }


class ScoringParams(Params):
    model_id: str | None = None
    strategy: str = "entropy"
    k: int = Field(default=20, ge=1)
    min_distance: float | None = Field(default=None, ge=0)


def run_al_scoring(params: ScoringParams, ctx: JobContext) -> dict[str, Any]:
    from core.active.diversity import DEFAULT_MIN_DISTANCE
    from core.active.queue import build_queue
    from core.active.scoring_model import load_scoring_model
    from core.auth import require
    from core.registry import Registry
    from core.store import Store

    require(Permission.TRAIN)
    store = Store()
    model_id, model = load_scoring_model(Registry(store.settings.models_dir), params.model_id)
    ctx.progress(0, 1, f"scoring the pool with {model_id}")
    min_distance = DEFAULT_MIN_DISTANCE if params.min_distance is None else params.min_distance
    report = build_queue(
        store, model, model_id=model_id, strategy=params.strategy, k=params.k, min_distance=min_distance
    )
    ctx.progress(1, 1, report.summary())
    return {"model_id": model_id, "summary": report.summary(), **asdict(report)}


class SimulationParams(Params):
    strategy: str = "margin"
    initial: int = Field(default=20, ge=1)
    batch: int = Field(default=20, ge=1)
    rounds: int = Field(default=10, ge=1)
    classifier: str = "logistic_regression"
    feature_sets: list[str] = Field(default_factory=lambda: ["blendshapes"])
    seed: int = 0
    npz: str | None = None  # a landmark cache (bench/train.py format) instead of the store's labeled faces


def run_al_simulation(params: SimulationParams, ctx: JobContext) -> dict[str, Any]:
    """Uncertainty against random sampling on labeled faces (the store's, or a landmark cache's), their labels
    revealed round by round."""
    from core.active.simulation import load_landmark_cache, simulate

    if params.npz is not None:
        from core.import_roots import ImportRoots
        from core.settings import get_settings

        path = ImportRoots.for_acting_user(get_settings()).check(Path(params.npz), "landmark cache")
        x, y, groups = load_landmark_cache(path)
    else:
        from core.store import Store
        from core.training.data import from_store

        data = from_store(Store())
        x, y, groups = data.x, data.y, data.groups
    n_emotions = len(set(y.tolist()))
    ctx.progress(0, params.rounds + 1, f"{len(y)} labeled faces, {n_emotions} emotions")
    result = simulate(
        x,
        y,
        groups=groups,
        strategy=params.strategy,
        initial=params.initial,
        batch=params.batch,
        rounds=params.rounds,
        model_name=params.classifier,
        feature_sets=params.feature_sets,
        seed=params.seed,
        progress=ctx.progress,
        cancel=ctx.cancel,
    )
    return {
        **asdict(result),
        "rows": result.rows(),
        "labels_to_match_random": result.labels_to_match_random(),
        "n_faces": len(y),
        "n_emotions": n_emotions,
    }


class PoolParams(Params):
    folder: str


def run_al_pool(params: PoolParams, ctx: JobContext) -> dict[str, Any]:
    """Import a folder into the unlabeled pool, then extract the landmarks of what is not yet extracted. Resumable:
    images already in the store are recognised by their content and not added twice; extraction skips what is done."""
    from core.active.pool import extract_pool, import_pool_folder
    from core.import_roots import ImportRoots, check_import
    from core.store import Store

    store = Store()
    folder = check_import(ImportRoots.for_acting_user(store.settings), params.folder, "folder")

    def importing(done: int, total: int, message: str = "", /) -> None:
        ctx.progress(done, total, message or f"importing {done}/{total}")

    report = import_pool_folder(store, folder, progress=importing, cancel=ctx.cancel)
    batch = None
    if not ctx.cancelled():
        ctx.progress(0, 0, "extracting landmarks")
        batch = extract_pool(store, progress=ctx.progress, cancel=ctx.cancel)
    ctx.progress(ctx.done, ctx.total, report.summary())
    return {
        "summary": report.summary(),
        "skipped": [list(s) for s in report.skipped[:500]],
        "extracted": None
        if batch is None
        else {"ok": batch.ok, "no_face": batch.no_face, "errors": batch.errors, "processed": batch.processed},
    }


class RoundParams(Params):
    classifier: str | None = None
    feature_sets: list[str] | None = None
    seed: int = 0
    activation: Activation = "never"  # the round's model against the active one


def run_al_round(params: RoundParams, ctx: JobContext) -> dict[str, Any]:
    """Retrain on every labeled training face, score on the held-out set, record the round; the model is compared
    with the active one and activated as `activation` says (never, by default)."""
    from core.active.rounds import retrain
    from core.registry import Registry
    from core.store import Store

    store = Store()
    kwargs: dict[str, Any] = {"seed": params.seed, "activation": params.activation}
    if params.classifier:
        kwargs["model_name"] = params.classifier
    if params.feature_sets:
        kwargs["feature_sets"] = params.feature_sets
    ctx.progress(0, 1, "retraining")
    result = retrain(store, Registry(store.settings.models_dir), **kwargs)
    ctx.progress(
        1,
        1,
        f"Round {result.round_id}: macro-F1 {result.macro_f1:.3f} with {result.n_labels} labels "
        f"(model {result.model_id}); {result.activation_message}",
    )
    return asdict(result)


register(
    JobKind(
        GENERATION,
        "Portrait generation",
        GenerationParams,
        Permission.GENERATE,
        run_generation,
        True,
        exclusive_key=lambda p: str(p.generation_job_id),  # one run of a generation at a time
    )
)
register(JobKind(LLM_LABELING, "LLM labeling", LabelingParams, Permission.LLM_LABEL, run_llm_labeling, True))
register(JobKind(AL_SCORING, "Active-learning scoring", ScoringParams, Permission.TRAIN, run_al_scoring, lane=SHORT))
register(JobKind(AL_SIMULATION, "Sampling simulation", SimulationParams, Permission.TRAIN, run_al_simulation))
register(JobKind(AL_ROUND, "Retraining round", RoundParams, Permission.TRAIN, run_al_round))
register(JobKind(AL_POOL, "Pool import and extraction", PoolParams, Permission.IMPORT, run_al_pool, True))
