"""The catalogue of job kinds: every kind the workers run, listed once. Each kind lives beside its domain and imports
only `core.jobs.contract`, so this module imports them all without an import circle and stays cheap to load (their
heavy imports happen inside their run functions)."""

from __future__ import annotations

from typing import Any

from core.active_learning.kinds import (
    AL_POOL_KIND,
    AL_ROUND_KIND,
    AL_SCORING_KIND,
    AL_SIMULATION_KIND,
    LLM_LABELING_KIND,
)
from core.batch_evaluation import BATCH_EVALUATION_KIND, BATCH_UPLOADS_KIND
from core.detector.kinds import DETECTOR_TRAINING_KIND, PIPELINE_COMPARISON_KIND
from core.faceapi_torch.kinds import FACEAPI_FINETUNING_KIND
from core.generation.kinds import GENERATION_KIND
from core.import_job import IMPORT_KIND
from core.jobs.contract import JobKind, Lane, UnknownJobKind
from core.landmarks.kinds import EXTRACTION_KIND
from core.suites.kinds import SUITE_EVALUATION_KIND
from core.training.kinds import LANDMARK_TRAINING_KIND, MODEL_COMPARISON_KIND
from core.training.resnet_kind import RESNET_TRAINING_KIND

AnyKind = JobKind[Any, Any]

_KINDS: dict[str, AnyKind] = {
    kind.name: kind
    for kind in (
        EXTRACTION_KIND,
        IMPORT_KIND,
        LANDMARK_TRAINING_KIND,
        MODEL_COMPARISON_KIND,
        RESNET_TRAINING_KIND,
        DETECTOR_TRAINING_KIND,
        PIPELINE_COMPARISON_KIND,
        FACEAPI_FINETUNING_KIND,
        BATCH_EVALUATION_KIND,
        BATCH_UPLOADS_KIND,
        SUITE_EVALUATION_KIND,
        GENERATION_KIND,
        LLM_LABELING_KIND,
        AL_SCORING_KIND,
        AL_SIMULATION_KIND,
        AL_ROUND_KIND,
        AL_POOL_KIND,
    )
}


def get_kind(name: str) -> AnyKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownJobKind(f"unknown job kind {name!r}; known: {', '.join(sorted(_KINDS))}") from None


def all_kinds() -> dict[str, AnyKind]:
    return dict(_KINDS)


def kinds_in_lane(lane: Lane) -> list[str]:
    return sorted(name for name, kind in _KINDS.items() if kind.lane == lane)
