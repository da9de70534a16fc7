"""The portrait generation job: the pending items of a generation (core.generation.jobs) through Gemini. The key is
the server's (GEMINI_API_KEY) in a worker; a key typed into a page (local mode) lives only in that session, so such
a job runs in the dashboard's process with the key in memory (ui.jobs.run_here)."""

from __future__ import annotations

from pydantic import Field

from core.auth import Permission
from core.jobs.contract import JobContext, JobKind, Params, Result

GENERATION = "generation"
GEMINI_KEY = "gemini_api_key"  # the name of a session's key in JobContext.secrets


class GenerationParams(Params):
    generation_job_id: int = Field(ge=1)  # the generation job (its template and items) in core.generation's tables
    concurrency: int | None = Field(default=None, ge=1, description="requests in flight (default GEMINI_CONCURRENCY)")
    rpm: float | None = Field(default=None, gt=0, description="requests per minute (default GEMINI_RPM)")
    extract_landmarks: bool = Field(default=True, description="extract the landmarks of each generated image")


class GenerationResult(Result):
    generation_job_id: int
    generated: int = 0
    failed: int = 0
    recovered: int = 0
    extracted: int = 0
    rate: float = 0.0
    failures: list[tuple[int, str]] = Field(default_factory=list)  # (item id, reason), the first 200


def run_generation(params: GenerationParams, ctx: JobContext) -> GenerationResult:
    """Generate the job's pending items. Resumable: items already done are never requested again."""
    from core.gemini.client import resolve_key
    from core.generation.runner import run_job

    # A key typed into the page for its session arrives in memory only; else the server's key (MissingApiKey
    # explains how to set one).
    api_key = ctx.secrets.get(GEMINI_KEY) or resolve_key(ctx.settings)
    report = run_job(
        params.generation_job_id,
        store=ctx.store,
        settings=ctx.settings,
        api_key=api_key,
        concurrency=params.concurrency,
        rpm=params.rpm,
        progress=ctx.progress,
        cancel=ctx.cancel,
        extract_landmarks=params.extract_landmarks,
    )
    return GenerationResult(
        generation_job_id=params.generation_job_id,
        generated=report.generated,
        failed=report.failed,
        recovered=report.recovered,
        extracted=report.extracted,
        rate=report.rate,
        failures=report.failures[:200],
    )


GENERATION_KIND = JobKind(
    GENERATION,
    "Portrait generation",
    GenerationParams,
    GenerationResult,
    Permission.GENERATE,
    run_generation,
    resumable=True,
    exclusive_key=lambda p: str(p.generation_job_id),  # one run of a generation at a time
)
