"""The batch evaluation jobs: a model (default: the active one) on a folder or manifest of images on the server
(`python -m core evaluate`), and the Batch test page's run on the files a user uploaded (core.batch_uploads)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from core.auth import Permission
from core.errors import PathNotAllowed
from core.jobs.contract import SHORT, JobContext, JobKind, Params, Result

if TYPE_CHECKING:
    from core.evaluation import EvalResult

BATCH_EVALUATION = "batch_evaluation"
BATCH_UPLOADS = "batch_upload_test"


class BatchEvaluationParams(Params):
    path: str
    model_id: str | None = None
    out: str | None = None  # predictions CSV; default <DATA_ROOT>/exports/job-<id>-predictions.csv


class EvaluationResult(Result):
    model_id: str
    n_images: int = 0
    predictions_csv: str = ""
    metrics: dict[str, Any] | None = None  # accuracy, macro_f1, labels, confusion_matrix, per_class


class BatchEvaluationResult(EvaluationResult):
    no_face: list[str] = Field(default_factory=list)  # the first 500
    errors: list[tuple[str, str]] = Field(default_factory=list)  # (path, message), the first 500


def _evaluate_folder(path: Path, model_id: str | None, ctx: JobContext) -> tuple[str, EvalResult, int]:
    """(model id, EvalResult, number of items) of a model (default: the active one) on the images at `path`."""
    from core.errors import StudioError
    from core.evaluation import evaluate_items, items_from_path
    from core.inference import Recognizer
    from core.landmarks.extractor import LandmarkExtractor

    model_id = model_id or ctx.registry.active_id()
    if model_id is None:
        raise StudioError("no model to evaluate: train one or choose a model")
    model = ctx.registry.load(model_id)
    items = items_from_path(path)
    if not items:
        raise StudioError(f"no images found in {path}")
    extractor = LandmarkExtractor(ctx.settings, mode="image") if model.needs_landmarks else None
    try:
        result = evaluate_items(Recognizer(model, extractor), items, progress=ctx.progress, cancel=ctx.cancel)
    finally:
        if extractor is not None:
            extractor.close()
    return model_id, result, len(items)


def run_batch_evaluation(params: BatchEvaluationParams, ctx: JobContext) -> BatchEvaluationResult:
    """Evaluate a model on a folder or manifest CSV of images on the server."""
    from core.import_roots import ImportRoots

    roots = ImportRoots.for_acting_user(ctx.settings)
    path = roots.check_tree(Path(params.path), "folder")
    if params.out and not roots.unrestricted:  # the dashboard writes exports only, never a chosen server path
        raise PathNotAllowed("only the command line chooses where the predictions CSV goes (--out)")
    model_id, result, n_images = _evaluate_folder(path, params.model_id, ctx)
    out = Path(params.out) if params.out else ctx.export_path("predictions.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(out)
    return BatchEvaluationResult(
        model_id=model_id,
        n_images=n_images,
        predictions_csv=str(out),
        no_face=[str(p) for p in result.no_face[:500]],
        errors=[(str(p), m) for p, m in result.errors[:500]],
        metrics=result.metrics,
    )


class UploadTestParams(Params):
    upload_id: str = Field(pattern=r"^[0-9a-f]{32}$")  # a folder under DATA_ROOT/uploads/, never a path
    model_id: str | None = None
    refused: list[tuple[str, str]] = Field(default_factory=list, max_length=1000)  # uploads staging turned away


class UploadTestResult(EvaluationResult):
    table_json: str = ""  # the page's table (with thumbnails), records as JSON
    refused: list[tuple[str, str]] = Field(default_factory=list)


def run_upload_test(params: UploadTestParams, ctx: JobContext) -> UploadTestResult:
    """The Batch test page's run: evaluate the uploads staged for this job. The table the page shows (with
    thumbnails, paths relative to the upload) and the predictions CSV go to the exports folder, since the staged
    folder is removed when the job ends (`cleanup_upload_test`)."""
    from core.atomic import atomic_write_text
    from core.auth import require
    from core.batch_uploads import thumbnail_uri, upload_folder
    from core.errors import StudioError

    require(Permission.EVALUATE)
    folder = upload_folder(ctx.settings, params.upload_id)
    if not folder.is_dir():
        raise StudioError("the uploaded files of this test are gone; upload them again")
    model_id, result, n_images = _evaluate_folder(folder, params.model_id, ctx)
    table = result.predictions.copy()
    table.insert(0, "thumbnail", [thumbnail_uri(Path(p)) for p in table["path"]])
    table["path"] = [Path(p).relative_to(folder).as_posix() for p in table["path"]]
    csv_out, table_out = ctx.export_path("predictions.csv"), ctx.export_path("batch-test.json")
    atomic_write_text(csv_out, table.drop(columns=["thumbnail"]).to_csv(index=False))
    atomic_write_text(table_out, table.to_json(orient="records"))
    return UploadTestResult(
        model_id=model_id,
        n_images=n_images,
        predictions_csv=str(csv_out),
        table_json=str(table_out),
        refused=params.refused,
        metrics=result.metrics,
    )


def cleanup_upload_test(params: UploadTestParams, ctx: JobContext) -> None:
    from core.batch_uploads import remove_upload

    remove_upload(ctx.settings, params.upload_id)


BATCH_EVALUATION_KIND = JobKind(
    BATCH_EVALUATION,
    "Batch evaluation of a folder",
    BatchEvaluationParams,
    BatchEvaluationResult,
    Permission.TRAIN,
    run_batch_evaluation,
    lane=SHORT,
)
BATCH_UPLOADS_KIND = JobKind(
    BATCH_UPLOADS,
    "Batch test of uploads",
    UploadTestParams,
    UploadTestResult,
    Permission.EVALUATE,
    run_upload_test,
    on_finish=cleanup_upload_test,
    lane=SHORT,
)
