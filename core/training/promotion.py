"""Promotion by comparison: a new model replaces the active one only when a person says so, or when it beats the
active one on the same held-out images and the person opted in to that.

The held-out images are the store's "test" images, else the person-grouped split that training uses (same data,
same seed, so the new model never saw them). Both models predict every image; the comparison (accuracy, macro-F1,
per-class F1, the images where they disagree) is kept beside the new model in the registry
(`<id>/comparison.json`) and summarised in the activation history.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from core.auth import Permission, require
from core.errors import StudioError, TrainingDataError
from core.imaging import decode_rgb
from core.inference import ExpressionModel
from core.registry import ActivationRecord, Registry
from core.schema import EMOTIONS, TRAINABLE_STATUSES
from core.store.files import atomic_write_text
from core.store.repository import FaceData, Filters, Store
from core.training.compare import holdout_split
from core.training.data import from_store
from core.training.report import classification_metrics

log = logging.getLogger("core.training.promotion")

ActivationPolicy = Literal["never", "if_better", "always"]
ACTIVATION_POLICIES: Final[tuple[str, ...]] = ("never", "if_better", "always")
COMPARISON_FILE: Final[str] = "comparison.json"
NO_FACE: Final[str] = "(no face)"  # the prediction of a model that found no face in a held-out image
MAX_DISAGREEMENTS: Final[int] = 200  # kept in the record; the count is always exact


class ModelScore(BaseModel):
    model_id: str
    accuracy: float | None = None
    macro_f1: float | None = None
    per_class_f1: dict[str, float] = Field(default_factory=dict)
    error: str = ""  # why the model could not be scored (e.g. it no longer loads); its metrics are then None


class Disagreement(BaseModel):
    image_id: int
    label: str
    candidate: str
    incumbent: str


class Comparison(BaseModel):
    """The new model against the active one on the same held-out images."""

    candidate: ModelScore
    incumbent: ModelScore | None  # None when no model was active
    holdout: str
    n_images: int
    image_ids: list[int]
    n_disagreements: int = 0
    disagreements: list[Disagreement] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def better(self) -> bool:
        """True when the candidate beats the active model: higher macro-F1, or equal macro-F1 and higher accuracy.
        An active model that cannot be scored (missing, or no longer loadable) loses; a candidate that cannot be
        scored never wins."""
        cand = self.candidate
        if cand.macro_f1 is None or cand.accuracy is None:
            return False
        inc = self.incumbent
        if inc is None or inc.macro_f1 is None or inc.accuracy is None:
            return True
        return (cand.macro_f1, cand.accuracy) > (inc.macro_f1, inc.accuracy)

    def headline(self) -> str:
        """e.g. "macro-F1 0.612 vs 0.589 (starter), accuracy 0.660 vs 0.653 on 50 images"."""
        cand, inc = self.candidate, self.incumbent
        if cand.macro_f1 is None or cand.accuracy is None:
            return f"the new model could not be scored: {cand.error}"
        if inc is None:
            return f"macro-F1 {cand.macro_f1:.3f}, accuracy {cand.accuracy:.3f} on {self.n_images} images (none active)"
        if inc.macro_f1 is None or inc.accuracy is None:
            return f"macro-F1 {cand.macro_f1:.3f}; the active model {inc.model_id} could not be scored: {inc.error}"
        return (
            f"macro-F1 {cand.macro_f1:.3f} vs {inc.macro_f1:.3f} ({inc.model_id}), accuracy {cand.accuracy:.3f} vs "
            f"{inc.accuracy:.3f} on {self.n_images} images"
        )

    def summary(self) -> dict[str, Any]:
        """What the activation history keeps: the two scores and the held-out set, without per-image rows."""
        return {
            "candidate": self.candidate.model_dump(),
            "incumbent": None if self.incumbent is None else self.incumbent.model_dump(),
            "holdout": self.holdout,
            "n_images": self.n_images,
            "n_disagreements": self.n_disagreements,
            "better": self.better,
        }


@dataclass(frozen=True)
class HeldOut:
    """Held-out faces: store record ids, true labels and stored landmark extractions (aligned)."""

    image_ids: list[int]
    labels: list[str]
    faces: list[FaceData]
    description: str


@dataclass(frozen=True)
class Promotion:
    comparison: Comparison | None  # None when there were no held-out faces to compare on
    activated: bool
    message: str
    record: ActivationRecord | None = None


def held_out_set(store: Store, filters: Filters | None = None, *, seed: int = 0) -> HeldOut:
    """The images a new model is judged on: the store's "test" faces, else a person-grouped split of the labeled
    faces that matches what `compare_models` held out for the same filters and seed."""
    data = from_store(store, filters)
    if len(data) < 2 or len(data.classes) < 2:
        raise TrainingDataError("comparing models needs labeled faces of at least two emotions")
    try:
        _, test_idx, description = holdout_split(data, seed)
    except ValueError as exc:  # too few faces per emotion for a stratified split
        raise TrainingDataError(f"too few labeled faces to hold some out for a comparison ({exc})") from exc
    ids = [data.image_ids[int(i)] for i in test_idx]
    wanted = set(ids)
    # The ids come from `from_store` with the caller's filters; this only fetches their extractions.
    training = Filters(statuses=list(TRAINABLE_STATUSES), labeled_only=True)
    faces = {record.id: (str(record.emotion), face) for record, face in store.faces(training) if record.id in wanted}
    kept = [i for i in ids if i in faces]
    return HeldOut(kept, [faces[i][0] for i in kept], [faces[i][1] for i in kept], description)


def _predict_all(model: ExpressionModel, store: Store, held: HeldOut) -> list[str]:
    """The model's label for each held-out image: landmark models use the stored extraction, image models (ResNet,
    detector) read the image file; an image where no face is found counts as a wrong prediction."""
    out: list[str] = []
    blank = np.zeros((1, 1, 3), dtype=np.uint8)
    for image_id, face in zip(held.image_ids, held.faces, strict=True):
        if model.card.kind == "landmark":
            rgb = blank  # landmark models read only the face arrays
        else:
            record = store.get(image_id)
            if record is None:
                out.append(NO_FACE)
                continue
            rgb = decode_rgb(store.read_bytes(record))
        predictions = model.predict_faces(rgb, [face])
        if not predictions:
            out.append(NO_FACE)
        else:
            best = max(predictions, key=lambda p: (p.box[2] - p.box[0]) * (p.box[3] - p.box[1]))
            out.append(best.emotion)
    return out


def _score(model_id: str, truth: Sequence[str], predicted: Sequence[str]) -> ModelScore:
    # Both models are scored over the emotions of the held-out set, so their macro-F1s average the same classes.
    labels = [e for e in EMOTIONS if e in set(truth)]
    metrics = classification_metrics(truth, predicted, labels)
    return ModelScore(
        model_id=model_id,
        accuracy=metrics["accuracy"],
        macro_f1=metrics["macro_f1"],
        per_class_f1={k: v["f1"] for k, v in metrics["per_class"].items()},
    )


def compare_with_active(
    registry: Registry,
    store: Store,
    candidate_id: str,
    *,
    filters: Filters | None = None,
    seed: int = 0,
    held_out: HeldOut | None = None,
) -> Comparison:
    """Score `candidate_id` and the active model on the same held-out images and save the comparison beside the
    candidate. A model that fails to load or predict is recorded with its error instead of stopping the run.
    Scoring models and writing into a model's folder is training work: it needs the trainer role."""
    require(Permission.TRAIN)
    held = held_out or held_out_set(store, filters, seed=seed)
    if not held.image_ids:
        raise TrainingDataError("no held-out faces to compare the models on")
    active_id = registry.active_id()
    scores: dict[str, ModelScore] = {}
    predictions: dict[str, list[str]] = {}
    for model_id in dict.fromkeys([candidate_id, active_id]):
        if model_id is None:
            continue
        try:
            predictions[model_id] = _predict_all(registry.load(model_id), store, held)
            scores[model_id] = _score(model_id, held.labels, predictions[model_id])
        except Exception as exc:  # e.g. an active model built for other features: it loses, visibly
            log.warning("model could not be scored", extra={"model_id": model_id, "error": str(exc)})
            scores[model_id] = ModelScore(model_id=model_id, error=str(exc) or type(exc).__name__)
    disagreements: list[Disagreement] = []
    if active_id is not None and active_id != candidate_id and candidate_id in predictions and active_id in predictions:
        for i, image_id in enumerate(held.image_ids):
            a, b = predictions[candidate_id][i], predictions[active_id][i]
            if a != b:
                disagreements.append(Disagreement(image_id=image_id, label=held.labels[i], candidate=a, incumbent=b))
    comparison = Comparison(
        candidate=scores[candidate_id],
        incumbent=None if active_id is None else scores[active_id],
        holdout=held.description,
        n_images=len(held.image_ids),
        image_ids=held.image_ids,
        n_disagreements=len(disagreements),
        disagreements=disagreements[:MAX_DISAGREEMENTS],
    )
    atomic_write_text(registry.folder(candidate_id) / COMPARISON_FILE, comparison.model_dump_json(indent=1))
    return comparison


def side_by_side(comparison: Comparison) -> pd.DataFrame:
    """Rows: accuracy, macro-F1, F1 per emotion; columns: the new model and the active one."""
    columns = {"new": comparison.candidate}
    if comparison.incumbent is not None and comparison.incumbent.model_id != comparison.candidate.model_id:
        columns["active"] = comparison.incumbent
    emotions = [e for e in EMOTIONS if any(e in s.per_class_f1 for s in columns.values())]
    index = ["accuracy", "macro-F1"] + [f"F1 {e}" for e in emotions]
    data = {
        f"{name} ({score.model_id})": [score.accuracy, score.macro_f1] + [score.per_class_f1.get(e) for e in emotions]
        for name, score in columns.items()
    }
    return pd.DataFrame(data, index=index)


def load_comparison(registry: Registry, model_id: str) -> Comparison | None:
    """The comparison saved when `model_id` was trained, or None."""
    try:
        path = registry.folder(model_id) / COMPARISON_FILE
        return Comparison.model_validate_json(path.read_text()) if path.is_file() else None
    except (OSError, ValueError, StudioError):
        return None


def promote(
    registry: Registry,
    store: Store,
    candidate_id: str,
    *,
    policy: ActivationPolicy = "never",
    filters: Filters | None = None,
    seed: int = 0,
) -> Promotion:
    """Compare `candidate_id` with the active model and activate it as `policy` says: "never" (the default),
    "if_better", or "always". Every activation goes into the registry's history with its comparison. Without
    held-out faces there is no comparison: only "always" activates then."""
    if policy not in ACTIVATION_POLICIES:
        raise ValueError(f"unknown activation policy {policy!r}; valid: {', '.join(ACTIVATION_POLICIES)}")
    try:
        comparison: Comparison | None = compare_with_active(registry, store, candidate_id, filters=filters, seed=seed)
    except TrainingDataError as exc:
        comparison = None
        score, holdout = f"no comparison with the active model: {exc}", ""
    else:
        assert comparison is not None
        score, holdout = comparison.headline(), f", {comparison.holdout}"
    if registry.active_id() == candidate_id:
        return Promotion(comparison, False, f"{candidate_id} is already the active model ({score})")
    if not (policy == "always" or (policy == "if_better" and comparison is not None and comparison.better)):
        if policy == "never":
            why = "activation not requested"
        else:
            why = "no comparison to show it is better" if comparison is None else "not better than the active model"
        return Promotion(comparison, False, f"{candidate_id} not activated: {why} ({score}{holdout})")
    record = registry.activate(
        candidate_id,
        reason="better" if policy == "if_better" else "forced",
        comparison=None if comparison is None else comparison.summary(),
    )
    return Promotion(comparison, True, f"{candidate_id} is now the active model ({score}{holdout})", record)


def activate_compared(registry: Registry, model_id: str) -> ActivationRecord:
    """A person's activation of `model_id`: recorded with the comparison saved when it was trained, if any."""
    comparison = load_comparison(registry, model_id)
    return registry.activate(model_id, reason="manual", comparison=None if comparison is None else comparison.summary())
