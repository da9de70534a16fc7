"""The suite evaluation job: score models on every domain of an evaluation suite (the Models tab's "Evaluate on a
suite" and `python -m core evaluate --suite`). It may extract the suite's landmarks first, then loads each model
and predicts every image, so it runs in a worker like a comparison does."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core.auth import Permission
from core.jobs.contract import SHORT, JobContext, JobKind, Params, Result

SUITE_EVALUATION = "suite_evaluation"


class SuiteEvaluationParams(Params):
    suite: str = Field(min_length=1)
    model_ids: list[str] = Field(default_factory=list, max_length=20)  # empty: the active model


class SuiteEvaluationResult(Result):
    evaluation: dict[str, Any]  # core.suites.evaluate.SuiteEvaluation as JSON
    warning: str | None = None  # the suite's images overlap training data


def run_suite_evaluation(params: SuiteEvaluationParams, ctx: JobContext) -> SuiteEvaluationResult:
    from core.errors import StudioError
    from core.suites.evaluate import evaluate_suite
    from core.suites.manage import get_suite, overlap_warning

    store = ctx.store
    get_suite(store, params.suite)  # an unknown suite is the first thing to say
    model_ids = params.model_ids or [m for m in [ctx.registry.active_id()] if m]
    if not model_ids:
        raise StudioError("no active model to evaluate: name one (--model ID)")
    result = evaluate_suite(store, ctx.registry, params.suite, model_ids, progress=ctx.progress, cancel=ctx.cancel)
    return SuiteEvaluationResult(
        evaluation=result.model_dump(mode="json"), warning=overlap_warning(store, params.suite)
    )


SUITE_EVALUATION_KIND = JobKind(
    SUITE_EVALUATION,
    "Evaluation on a suite",
    SuiteEvaluationParams,
    SuiteEvaluationResult,
    Permission.TRAIN,
    run_suite_evaluation,
    lane=SHORT,
)
