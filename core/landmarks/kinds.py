"""The landmark extraction job: every image of the store without landmarks (the Data page's Extract and
`python -m core extract`)."""

from __future__ import annotations

from pydantic import Field

from core.auth import Permission
from core.jobs.contract import JobContext, JobKind, Params, Result

EXTRACTION = "extraction"


class ExtractionParams(Params):
    retry_failed: bool = Field(default=False, description="also retry images whose extraction errored")
    workers: int | None = Field(default=None, ge=1, description="worker processes (default: Settings.extract_workers)")


class ExtractionResult(Result):
    processed: int = 0
    ok: int = 0
    no_face: int = 0
    errors: int = 0
    problems: list[tuple[int, str, str]] = Field(default_factory=list)  # (image id, state, reason), the first 500


def run_extraction(params: ExtractionParams, ctx: JobContext) -> ExtractionResult:
    """Extract every image without landmarks. Each chunk is saved as it finishes, so a requeued job resumes with
    the images still pending: nothing is redone, nothing is skipped."""
    from core.landmarks.batch import extract_store

    store = ctx.store
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
    return ExtractionResult(
        processed=report.processed,
        ok=report.ok,
        no_face=report.no_face,
        errors=report.errors,
        problems=report.problems[:500],
    )


EXTRACTION_KIND = JobKind(
    EXTRACTION,
    "Landmark extraction",
    ExtractionParams,
    ExtractionResult,
    Permission.EXTRACT,
    run_extraction,
    resumable=True,
    exclusive=True,
)
