"""Landmark models in the registry: saving a fitted Pipeline with its card, and loading it back as an
`ExpressionModel` (kind "landmark"; `core.models.registry` calls `load_artifact`).

The zoo lives in `core.training.zoo` and the grid-search comparison in `core.training.compare`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import joblib
import numpy as np
import sklearn
from sklearn.pipeline import Pipeline

from core.errors import ModelFileCorrupt, ModelMismatch
from core.features import FEATURE_VERSION, faces_to_matrix
from core.inference import FacePrediction, top_prediction
from core.models.registry import ModelCard, ModelKind, Registry, check_emotions, new_model_id, read_artifact
from core.records import FaceData
from core.settings import get_settings
from core.training.compare import ComparisonResult
from core.training.report import ModelReport
from core.training.zoo import HYBRID_MODELS

KIND: Final[ModelKind] = "landmark"
HYBRID_KIND: Final[ModelKind] = "hybrid"  # face-api rows beside the landmark rows; loaded by core.faceapi.hybrid
ARTIFACT: Final[str] = "model.joblib"


# ---- registry --------------------------------------------------------------------------------------------------
def save_model(
    registry: Registry,
    pipeline: Pipeline,
    report: ModelReport,
    *,
    classes: Sequence[str],
    data_hash: str,
    data_sources: Sequence[str] = (),
    model_id: str | None = None,
    notes: str = "",
    extra_metrics: dict[str, Any] | None = None,
    job_id: int | None = None,
) -> ModelCard:
    """Write a fitted pipeline and its card into the registry (atomically). The card records the artifact's
    sha256, which `load_artifact` checks before unpickling. A hybrid model (face-api + landmarks) is saved as
    kind "hybrid" with the sha256 of the network file it was trained on."""
    hybrid = report.name in HYBRID_MODELS
    kind: ModelKind = HYBRID_KIND if hybrid else KIND
    network = {"network_sha256": get_settings().faceapi_model_sha256} if hybrid else {}
    buffer = io.BytesIO()
    joblib.dump(
        {
            "pipeline": pipeline,
            "classes": list(classes),
            "feature_sets": report.feature_sets,
            "feature_version": FEATURE_VERSION,
        },
        buffer,
        compress=3,
    )
    payload = buffer.getvalue()
    card = ModelCard(
        id=model_id or new_model_id(kind, report.name),
        kind=kind,
        name=report.name,
        classes=list(classes),
        feature_sets=list(report.feature_sets),
        feature_version=FEATURE_VERSION,
        metrics={**report.summary_metrics(), **(extra_metrics or {})},
        params={**report.best_params, **network, "artifact_sha256": hashlib.sha256(payload).hexdigest()},
        data_hash=data_hash,
        data_sources=list(data_sources),
        artifact=ARTIFACT,
        notes=notes,
        job_id=job_id,
    )

    def write(path: Path) -> None:
        path.write_bytes(payload)

    return registry.save(card, write)


def save_report(
    registry: Registry,
    result: ComparisonResult,
    report: ModelReport,
    *,
    data_sources: Sequence[str] = (),
    job_id: int | None = None,
) -> ModelCard:
    """Save one finished model of a comparison (usable as `compare_models(on_model=...)`)."""
    card = save_model(
        registry,
        result.pipelines[report.name],
        report,
        classes=result.classes,
        data_hash=result.data_hash,
        data_sources=data_sources,
        job_id=job_id,
    )
    report.model_id = card.id
    result.saved[report.name] = card
    return card


def save_comparison(
    registry: Registry, result: ComparisonResult, *, data_sources: Sequence[str] = (), job_id: int | None = None
) -> dict[str, ModelCard]:
    """Save the models of a comparison not saved yet. None becomes active here: that is
    `core.training.promotion.promote`'s decision, made against the active model."""
    for report in result.reports:
        if report.name not in result.saved:
            save_report(registry, result, report, data_sources=data_sources, job_id=job_id)
    return result.saved


class LandmarkModel:
    """A loaded landmark model: satisfies `core.inference.ExpressionModel`."""

    needs_landmarks = True
    needs_pixels = False  # features come from the landmarks and blendshapes alone

    def __init__(self, card: ModelCard, pipeline: Pipeline) -> None:
        self.card = card
        self.pipeline = pipeline
        # Column order of predict_proba (the classifier's sorted labels) -> the card's order.
        own = [str(c) for c in pipeline.classes_]
        if sorted(own) != sorted(card.classes):
            raise ModelMismatch(f"model {card.id}: its artifact predicts {own}, but its card says {card.classes}")
        self._order = [own.index(c) for c in card.classes]

    @property
    def whole_image_fallback(self) -> bool:
        return False  # no face, no landmarks: nothing to read (the hybrid subclass may answer with its network)

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of raw face rows, columns in `classes` order."""
        # MediaPipe output is always finite; skipping sklearn's per-call checks matters at 30 frames a second.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return np.asarray(self.pipeline.predict_proba(x))[:, self._order]

    def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData]) -> list[FacePrediction]:
        if not faces:
            return []
        proba = self.predict_proba(faces_to_matrix(faces))
        return [top_prediction(f.bbox, self.card.classes, p, f.landmarks) for f, p in zip(faces, proba, strict=True)]


def load_artifact(folder: Path, card: ModelCard) -> LandmarkModel:
    """The registry's loader for kind "landmark". Refuses models built on other features or other classes."""
    if card.feature_version != FEATURE_VERSION:
        raise ModelMismatch(
            f"model {card.id} was built with feature version {card.feature_version}; this code computes version "
            f"{FEATURE_VERSION}. Retrain it."
        )
    check_emotions(card)
    payload = read_artifact(folder, card, "artifact_sha256")
    try:
        artifact = joblib.load(io.BytesIO(payload))
    except Exception as exc:  # a truncated file or one pickled by incompatible library versions
        raise ModelFileCorrupt(
            f"model {card.id}: {Path(card.artifact).name} cannot be loaded ({type(exc).__name__})"
        ) from exc
    if artifact.get("feature_version") != FEATURE_VERSION:
        raise ModelMismatch(
            f"model {card.id}: artifact feature version {artifact.get('feature_version')} differs "
            f"from {FEATURE_VERSION}. Retrain it."
        )
    if list(artifact.get("classes", [])) != list(card.classes):
        raise ModelMismatch(
            f"model {card.id}: artifact classes {artifact.get('classes')} differ from the card's {card.classes}"
        )
    return LandmarkModel(card, artifact["pipeline"])
