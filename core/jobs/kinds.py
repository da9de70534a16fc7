"""The built-in job kinds: every long piece of work the pages and the CLI start.

Each run function is the one recipe for its work (the CLI runs it inline, the workers from the queue) and calls
the existing core functions; heavy imports stay inside the functions so that listing kinds is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.auth import Permission
from core.errors import PathNotAllowed
from core.jobs.registry import SHORT, JobContext, JobKind, register

EXTRACTION = "extraction"
LANDMARK_TRAINING = "landmark_training"
BATCH_EVALUATION = "batch_evaluation"
BATCH_UPLOADS = "batch_upload_test"
# How a trained model is promoted (core.training.promotion.ActivationPolicy, spelled out so listing kinds stays cheap).
Activation = Literal["never", "if_better", "always"]


class Params(BaseModel):
    # A field the code no longer knows makes the job's parameters invalid, rather than silently ignored.
    model_config = ConfigDict(extra="forbid")


class ExtractionParams(Params):
    retry_failed: bool = False
    workers: int | None = Field(default=None, ge=1)


def run_extraction(params: ExtractionParams, ctx: JobContext) -> dict[str, Any]:
    """Extract every image without landmarks. Each chunk is saved as it finishes, so a requeued job resumes with
    the images still pending: nothing is redone, nothing is skipped."""
    from core.landmarks.batch import extract_store
    from core.store import Store

    store = Store()
    report = extract_store(
        store, workers=params.workers, retry_failed=params.retry_failed, progress=ctx.progress, cancel=ctx.cancel
    )
    # Images imported while it ran are done too: extraction runs one job at a time, and a second one is refused
    # while this one runs because this one covers them.
    while not ctx.cancelled() and store.pending_extraction_ids():
        more = extract_store(store, workers=params.workers, progress=ctx.progress, cancel=ctx.cancel)
        if more.processed == 0:
            break
        report.processed, report.ok = report.processed + more.processed, report.ok + more.ok
        report.no_face, report.errors = report.no_face + more.no_face, report.errors + more.errors
        report.problems += more.problems
    summary = f"{report.ok} with a face, {report.no_face} without, {report.errors} errors"
    ctx.progress(report.processed, max(ctx.total, report.processed), summary)
    return {
        "processed": report.processed,
        "ok": report.ok,
        "no_face": report.no_face,
        "errors": report.errors,
        "problems": [list(p) for p in report.problems[:500]],
    }


class LandmarkTrainingParams(Params):
    models: list[str]
    feature_sets: list[str]
    preset: str = "quick"
    folds: int | None = Field(default=None, ge=2)
    emotions: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    grids: dict[str, dict[str, list[Any]]] = Field(default_factory=dict)  # per model; empty: the preset's
    seed: int = 0
    n_jobs: int = Field(default=1, ge=1)
    activation: Activation = "never"  # the best model, compared with the active one on the same held-out images
    # The images of that comparison: a suite (None: the last used one, if any), or the held-out split (use_suite off).
    suite: str | None = None
    use_suite: bool = True


def run_landmark_training(params: LandmarkTrainingParams, ctx: JobContext) -> dict[str, Any]:
    """Compare landmark models by grid search; each model is saved as it finishes (a cancel keeps those). The best
    one is then scored beside the active model and activated as `activation` says (never, by default)."""
    from core.auth import require
    from core.registry import Registry
    from core.store import Store
    from core.store.repository import Filters
    from core.training.compare import ComparisonResult, compare_models
    from core.training.data import from_store
    from core.training.landmark_registry import save_comparison, save_report
    from core.training.last_comparison import save_last_comparison
    from core.training.promotion import promote
    from core.training.report import ModelReport
    from core.training.zoo import HYBRID_MODELS

    user = require(Permission.TRAIN)
    store = Store()
    if params.suite is not None and params.use_suite:
        from core.suites.manage import get_suite

        get_suite(store, params.suite)  # a misspelt suite is said before the training, not after
    filters = Filters(emotions=params.emotions, sources=params.sources)
    # faceapi_blend reads face-api's network rows too (computed once per face, cached under the data root).
    data = from_store(store, filters, network=any(m in HYBRID_MODELS for m in params.models))
    registry = Registry(store.settings.models_dir)
    if ctx.job_id is not None and ctx.attempt > 1:
        registry.discard_job_models(ctx.job_id)  # an earlier attempt was killed: this one saves the whole set

    def save(result: ComparisonResult, report: ModelReport) -> None:
        save_report(registry, result, report, data_sources=data.sources, job_id=ctx.job_id)

    result = compare_models(
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
    save_comparison(registry, result, data_sources=data.sources, job_id=ctx.job_id)
    best = result.best
    promotion = None
    if best is not None and best.model_id:
        ctx.progress(ctx.total, ctx.total, "comparing the best model with the active one")
        policy = "never" if ctx.cancelled() else params.activation
        promotion = promote(
            registry,
            store,
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
        ctx.progress(
            ctx.total,
            ctx.total,
            f"best: {best.name}, macro-F1 {best.macro_f1:.3f} on the held-out split; {promotion.message}",
        )
    payload = {
        "reports": [r.to_dict() for r in result.reports],
        "holdout": result.holdout,
        "best": best.model_id if best else None,
        "best_name": best.name if best else None,
        "best_macro_f1": best.macro_f1 if best else None,
        "activated": bool(promotion and promotion.activated),
        "activation_message": promotion.message if promotion else "",
        "comparison": promotion.comparison.model_dump(mode="json") if promotion and promotion.comparison else None,
        "n_faces": len(data),
        "class_counts": data.class_counts(),
        "grouped": data.groups is not None,
    }
    save_last_comparison(registry, user.id, payload)  # the Train page shows it when no job is on record
    return payload


class BatchEvaluationParams(Params):
    path: str
    model_id: str | None = None
    out: str | None = None  # predictions CSV; default <DATA_ROOT>/exports/job-<id>-predictions.csv


def _evaluate_folder(path: Path, model_id: str | None, ctx: JobContext) -> tuple[str, Any, int]:
    """(model id, EvalResult, number of items) of a model (default: the active one) on the images at `path`."""
    from core.errors import StudioError
    from core.evaluation import evaluate_items, items_from_path
    from core.inference import Recognizer
    from core.landmarks.extractor import LandmarkExtractor
    from core.registry import Registry
    from core.settings import get_settings

    settings = get_settings()
    registry = Registry(settings.models_dir)
    model_id = model_id or registry.active_id()
    if model_id is None:
        raise StudioError("no model to evaluate: train one or choose a model")
    model = registry.load(model_id)
    items = items_from_path(path)
    if not items:
        raise StudioError(f"no images found in {path}")
    extractor = LandmarkExtractor(settings, mode="image") if model.needs_landmarks else None
    try:
        result = evaluate_items(Recognizer(model, extractor), items, progress=ctx.progress, cancel=ctx.cancel)
    finally:
        if extractor is not None:
            extractor.close()
    return model_id, result, len(items)


def _export_path(ctx: JobContext, name: str) -> Path:
    from core.settings import get_settings

    out: Path = get_settings().exports_dir / f"job-{ctx.job_id or 'inline'}-{name}"
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def run_batch_evaluation(params: BatchEvaluationParams, ctx: JobContext) -> dict[str, Any]:
    """Evaluate a model on a folder or manifest CSV of images on the server."""
    from core.import_roots import ImportRoots
    from core.settings import get_settings

    roots = ImportRoots.for_acting_user(get_settings())
    path = roots.check_tree(Path(params.path), "folder")
    if params.out and not roots.unrestricted:  # the dashboard writes exports only, never a chosen server path
        raise PathNotAllowed("only the command line chooses where the predictions CSV goes (--out)")
    model_id, result, n_images = _evaluate_folder(path, params.model_id, ctx)
    out = Path(params.out) if params.out else _export_path(ctx, "predictions.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(out)
    return {
        "model_id": model_id,
        "n_images": n_images,
        "predictions_csv": str(out),
        "no_face": [str(p) for p in result.no_face[:500]],
        "errors": [[str(p), m] for p, m in result.errors[:500]],
        "metrics": result.metrics,
    }


class UploadTestParams(Params):
    upload_id: str = Field(pattern=r"^[0-9a-f]{32}$")  # a folder under DATA_ROOT/uploads/, never a path
    model_id: str | None = None
    refused: list[tuple[str, str]] = Field(default_factory=list, max_length=1000)  # uploads staging turned away


def run_upload_test(params: UploadTestParams, ctx: JobContext) -> dict[str, Any]:
    """The Batch test page's run: evaluate the uploads staged for this job. The table the page shows (with
    thumbnails, paths relative to the upload) and the predictions CSV go to the exports folder, since the staged
    folder is removed when the job ends (`cleanup_upload_test`)."""
    from core.atomic import atomic_write_text
    from core.auth import require
    from core.batch_uploads import thumbnail_uri, upload_folder
    from core.errors import StudioError
    from core.settings import get_settings

    require(Permission.EVALUATE)
    folder = upload_folder(get_settings(), params.upload_id)
    if not folder.is_dir():
        raise StudioError("the uploaded files of this test are gone; upload them again")
    model_id, result, n_images = _evaluate_folder(folder, params.model_id, ctx)
    table = result.predictions.copy()
    table.insert(0, "thumbnail", [thumbnail_uri(Path(p)) for p in table["path"]])
    table["path"] = [Path(p).relative_to(folder).as_posix() for p in table["path"]]
    csv_out, table_out = _export_path(ctx, "predictions.csv"), _export_path(ctx, "batch-test.json")
    atomic_write_text(csv_out, table.drop(columns=["thumbnail"]).to_csv(index=False))
    atomic_write_text(table_out, table.to_json(orient="records"))
    return {
        "model_id": model_id,
        "n_images": n_images,
        "predictions_csv": str(csv_out),
        "table_json": str(table_out),
        "refused": [list(r) for r in params.refused],
        "metrics": result.metrics,
    }


def discard_training(params: LandmarkTrainingParams, job_id: int) -> None:
    """After a kill (runner death, cancel by force, timeout): the attempt's models go, so none is left unfinished."""
    from core.registry import Registry
    from core.settings import get_settings

    Registry(get_settings().models_dir).discard_job_models(job_id)


def cleanup_upload_test(params: UploadTestParams, job_id: int) -> None:
    from core.batch_uploads import remove_upload
    from core.settings import get_settings

    remove_upload(get_settings(), params.upload_id)


def sweep_job_files(queue: Any) -> None:
    """Remove what no queued or running job needs: staged Batch test folders (a job cancelled before it started,
    a page that never submitted, a crash) and job folders (checkpoints) of finished or vanished jobs. The
    workers call this now and then."""
    import shutil

    from core.batch_uploads import sweep_uploads
    from core.jobs.tables import QUEUED, RUNNING
    from core.training.checkpoint import job_folder

    live = queue.recent(statuses=(QUEUED, RUNNING), limit=100_000)
    sweep_uploads(queue.settings, {str(j.params.get("upload_id")) for j in live if j.kind == BATCH_UPLOADS})
    live_ids = {j.id for j in live}
    root = job_folder(queue.settings, 0).parent
    for folder in root.iterdir() if root.is_dir() else ():
        if folder.is_dir() and not (folder.name.isdigit() and int(folder.name) in live_ids):
            shutil.rmtree(folder, ignore_errors=True)


register(
    JobKind(
        EXTRACTION, "Landmark extraction", ExtractionParams, Permission.EXTRACT, run_extraction, True, exclusive=True
    )
)
register(
    JobKind(
        LANDMARK_TRAINING,
        "Landmark model comparison",
        LandmarkTrainingParams,
        Permission.TRAIN,
        run_landmark_training,
        on_killed=discard_training,
    )
)
register(
    JobKind(
        BATCH_EVALUATION,
        "Batch evaluation of a folder",
        BatchEvaluationParams,
        Permission.TRAIN,
        run_batch_evaluation,
        lane=SHORT,
    )
)
register(
    JobKind(
        BATCH_UPLOADS,
        "Batch test of uploads",
        UploadTestParams,
        Permission.EVALUATE,
        run_upload_test,
        on_finish=cleanup_upload_test,
        lane=SHORT,
    )
)
