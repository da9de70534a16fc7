"""The suite evaluation job: score models on every domain of an evaluation suite (the Models tab's "Evaluate on a
suite" and `python -m core evaluate --suite`). It may extract the suite's landmarks first, then loads each model
and predicts every image, so it runs in a worker like a comparison does."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core.auth import Permission
from core.jobs.kinds import Params
from core.jobs.registry import SHORT, JobContext, JobKind, register

SUITE_EVALUATION = "suite_evaluation"


class SuiteEvaluationParams(Params):
    suite: str = Field(min_length=1)
    model_ids: list[str] = Field(default_factory=list, max_length=20)  # empty: the active model


def run_suite_evaluation(params: SuiteEvaluationParams, ctx: JobContext) -> dict[str, Any]:
    from core.errors import StudioError
    from core.registry import Registry
    from core.store import Store
    from core.suites.evaluate import evaluate_suite
    from core.suites.manage import get_suite, overlap_warning

    store = Store()
    get_suite(store, params.suite)  # an unknown suite is the first thing to say
    registry = Registry(store.settings.models_dir)
    model_ids = params.model_ids or [m for m in [registry.active_id()] if m]
    if not model_ids:
        raise StudioError("no active model to evaluate: name one (--model ID)")
    result = evaluate_suite(store, registry, params.suite, model_ids, progress=ctx.progress, cancel=ctx.cancel)
    return {"evaluation": result.model_dump(mode="json"), "warning": overlap_warning(store, params.suite)}


register(
    JobKind(
        SUITE_EVALUATION,
        "Evaluation on a suite",
        SuiteEvaluationParams,
        Permission.TRAIN,
        run_suite_evaluation,
        lane=SHORT,
    )
)
