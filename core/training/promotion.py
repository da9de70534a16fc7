"""Promotion by comparison: a new model replaces the active one only when a person says so, or when it beats the
active one on the same images and the person opted in to that.

The images are one set, used for every figure and the decision: an evaluation suite when one is chosen (by default
the last used one, see `core.suites`), else the held-out split: the store's "test" images, else the person-grouped
split that training uses (same data, same seed, so the new model never saw them). On a suite the new model wins only
when its worst domain's macro-F1 is higher and no domain drops by more than Settings.suite_drop_margin. Both models
predict through `Recognizer.predict_stored`, like every other scoring; the comparison (accuracy, macro-F1, per-class
F1, per-domain scores, the images where they disagree) is kept beside the new model in the registry
(`<id>/comparison.json`) and summarised in the activation history.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from core.atomic import atomic_write_text
from core.auth import Permission, require
from core.errors import StudioError, TrainingDataError
from core.inference import ExpressionModel
from core.models.registry import ActivationRecord, Registry
from core.schema import EMOTIONS, TRAINABLE_STATUSES
from core.store.repository import FaceData, Filters, Store
from core.suites.evaluate import (
    NO_FACE,  # re-exported: what a model that found no face answers
    ModelSuiteScore,
    predict_stored_labels,
    score_domain,
)
from core.training.compare import holdout_split
from core.training.data import TrainingData, from_store
from core.training.promotion_comparison import (
    Comparison,
    Disagreement,
    ModelScore,
    domain_versus,
    side_by_side,
)
from core.training.report import classification_metrics

__all__ = [
    "ACTIVATION_POLICIES",
    "COMPARISON_FILE",
    "MAX_DISAGREEMENTS",
    "NO_FACE",
    "ActivationPolicy",
    "Comparison",
    "Disagreement",
    "HeldOut",
    "ModelScore",
    "Promotion",
    "activate_compared",
    "compare_with_active",
    "domain_versus",
    "held_out_set",
    "load_comparison",
    "promote",
    "side_by_side",
    "suite_set",
]

log = logging.getLogger("core.training.promotion")

ActivationPolicy = Literal["never", "if_better", "always"]
ACTIVATION_POLICIES: Final[tuple[str, ...]] = ("never", "if_better", "always")
COMPARISON_FILE: Final[str] = "comparison.json"
MAX_DISAGREEMENTS: Final[int] = 200  # kept in the record; the count is always exact


@dataclass(frozen=True)
class HeldOut:
    """The images a comparison is measured on: store record ids, true labels and stored landmark extractions
    (aligned; None where MediaPipe found no face, which counts as a wrong answer), and for a suite each image's
    domain."""

    image_ids: list[int]
    labels: list[str]
    faces: Sequence[FaceData | None]
    description: str
    suite: str | None = None
    domains: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Promotion:
    comparison: Comparison | None  # None when there were no held-out faces to compare on
    activated: bool
    message: str
    record: ActivationRecord | None = None


def held_out_set(
    store: Store, filters: Filters | None = None, *, seed: int = 0, data: TrainingData | None = None
) -> HeldOut:
    """The images a new model is judged on: the store's "test" faces, else a person-grouped split of the labeled
    faces that matches what `compare_models` held out for the same filters and seed. Pass the training's own `data`
    to split exactly the rows it split (e.g. without faces whose image the network could not read)."""
    data = data if data is not None else from_store(store, filters)
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
    return HeldOut(
        kept, [faces[i][0] for i in kept], [faces[i][1] for i in kept], f"the held-out split ({description})"
    )


def suite_set(store: Store, name: str) -> HeldOut:
    """Every image of an evaluation suite, with its domain (landmarks extracted first where missing)."""
    from core.store.repository import face_from_row
    from core.suites.evaluate import prepare_suite, suite_records
    from core.suites.manage import get_suite

    if get_suite(store, name).n_images == 0:
        # e.g. its images were deleted: no comparison, as without held-out faces, rather than failing the training
        # job after its models were saved.
        raise TrainingDataError(f"suite {name!r} has no images left to compare on")
    suite = prepare_suite(store, name)
    records = suite_records(store, suite)
    ids, labels, faces, domains = [], [], [], []
    for s in suite.sets:
        for image_id in s.image_ids:
            record = records.get(image_id)
            if record is None:
                continue
            ids.append(image_id)
            labels.append(str(record.emotion))
            faces.append(None if record.extraction is None else face_from_row(record.extraction))
            domains.append(s.domain)
    sizes = ", ".join(f"{s.domain} {len(s.image_ids)}" for s in suite.sets)
    return HeldOut(ids, labels, faces, f"suite {name} ({sizes} images)", suite=name, domains=domains)


def _predict_all(model: ExpressionModel, store: Store, held: HeldOut) -> list[str]:
    """The model's label for each image, through the one prediction path (`Recognizer.predict_stored`): landmark
    models use the stored extraction, image models read the file; an image where no face is found (by MediaPipe,
    or by a detector) or that cannot be read counts as a wrong prediction."""
    return predict_stored_labels(model, store, held.image_ids, held.faces)


def _domain_scores(model_id: str, held: HeldOut, predicted: Sequence[str]) -> ModelSuiteScore:
    domains = []
    for domain in dict.fromkeys(held.domains):
        idx = [i for i, d in enumerate(held.domains) if d == domain]
        domains.append(
            score_domain(
                domain, [held.image_ids[i] for i in idx], [held.labels[i] for i in idx], [predicted[i] for i in idx]
            )
        )
    return ModelSuiteScore(model_id=model_id, domains=domains)


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
    suite: str | None = None,
    use_suite: bool = True,
    data: TrainingData | None = None,
) -> Comparison:
    """Score `candidate_id` and the active model on the same images and save the comparison beside the candidate:
    on `suite`, else (with `use_suite`) on the last used suite if there is one, else on the held-out split. A model
    that fails to load or predict is recorded with its error instead of stopping the run. Scoring models and writing
    into a model's folder is training work: it needs the trainer role."""
    from core.suites.manage import last_used_suite, mark_used

    require(Permission.TRAIN)
    suite = (suite or last_used_suite(store)) if use_suite else None
    if suite is not None:
        held = suite_set(store, suite)
    else:
        held = held_out or held_out_set(store, filters, seed=seed, data=data)
    if not held.image_ids:
        raise TrainingDataError(f"no images to compare the models on in {held.description}")
    if held.suite is not None:
        mark_used(store, held.suite)
    active_id = registry.active_id()
    scores, predictions = _score_models(registry, store, held, [candidate_id, active_id])
    disagreements = _disagreements(held, predictions, candidate_id, active_id)
    per_domain = _record_domain_scores(registry, held, predictions)
    comparison = Comparison(
        candidate=scores[candidate_id],
        incumbent=None if active_id is None else scores[active_id],
        holdout=held.description,
        n_images=len(held.image_ids),
        image_ids=held.image_ids,
        n_disagreements=len(disagreements),
        disagreements=disagreements[:MAX_DISAGREEMENTS],
        suite=held.suite,
        candidate_domains=per_domain.get(candidate_id),
        incumbent_domains=None if active_id is None else per_domain.get(active_id),
        margin=store.settings.suite_drop_margin if held.suite is not None else 0.0,
    )
    atomic_write_text(registry.folder(candidate_id) / COMPARISON_FILE, comparison.model_dump_json(indent=1))
    return comparison


def _score_models(
    registry: Registry, store: Store, held: HeldOut, model_ids: Sequence[str | None]
) -> tuple[dict[str, ModelScore], dict[str, list[str]]]:
    """Each model's score and predictions on `held`; a model that fails gets a score with its error and no
    predictions."""
    scores: dict[str, ModelScore] = {}
    predictions: dict[str, list[str]] = {}
    for model_id in dict.fromkeys(model_ids):
        if model_id is None:
            continue
        try:
            predictions[model_id] = _predict_all(registry.load(model_id), store, held)
            scores[model_id] = _score(model_id, held.labels, predictions[model_id])
        except Exception as exc:  # e.g. an active model built for other features: it loses, visibly
            log.warning("model could not be scored", extra={"model_id": model_id, "error": str(exc)})
            scores[model_id] = ModelScore(model_id=model_id, error=str(exc) or type(exc).__name__)
    return scores, predictions


def _disagreements(
    held: HeldOut, predictions: dict[str, list[str]], candidate_id: str, active_id: str | None
) -> list[Disagreement]:
    """The images where the candidate and the active model answer differently (none when either was not scored)."""
    if (
        active_id is None
        or active_id == candidate_id
        or candidate_id not in predictions
        or active_id not in predictions
    ):
        return []
    found = []
    for i, image_id in enumerate(held.image_ids):
        a, b = predictions[candidate_id][i], predictions[active_id][i]
        if a != b:
            found.append(Disagreement(image_id=image_id, label=held.labels[i], candidate=a, incumbent=b))
    return found


def _record_domain_scores(
    registry: Registry, held: HeldOut, predictions: dict[str, list[str]]
) -> dict[str, ModelSuiteScore]:
    """On a suite: each scored model's per-domain scores, also recorded on its model card (whoever scored them)."""
    per_domain: dict[str, ModelSuiteScore] = {}
    if held.suite is None:
        return per_domain
    for model_id, predicted in predictions.items():
        per_domain[model_id] = _domain_scores(model_id, held, predicted)
        registry.record_suite_result(model_id, held.suite, per_domain[model_id].card_summary(held.suite))
    return per_domain


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
    suite: str | None = None,
    use_suite: bool = True,
    data: TrainingData | None = None,
) -> Promotion:
    """Compare `candidate_id` with the active model (on `suite`, by default the last used suite, else on the
    held-out split) and activate it as `policy` says: "never" (the default), "if_better", or "always". Every
    activation goes into the registry's history with its comparison. Without images to compare on there is no
    comparison: only "always" activates then."""
    if policy not in ACTIVATION_POLICIES:
        raise ValueError(f"unknown activation policy {policy!r}; valid: {', '.join(ACTIVATION_POLICIES)}")
    try:
        comparison: Comparison | None = compare_with_active(
            registry, store, candidate_id, filters=filters, seed=seed, suite=suite, use_suite=use_suite, data=data
        )
    except TrainingDataError as exc:
        comparison = None
        score = f"no comparison with the active model: {exc}"
    else:
        assert comparison is not None
        score = comparison.headline()
    active = registry.active_id()
    if active == candidate_id:
        return Promotion(comparison, False, f"{candidate_id} is already the active model ({score})")
    better, why = (False, score) if comparison is None else comparison.decision()
    if not (policy == "always" or (policy == "if_better" and better)):
        if comparison is None:
            why_not = "activation not requested" if policy == "never" else "no comparison to show it is better"
            message = f"{candidate_id} not activated: {why_not} ({score})"
        elif better:
            message = f"{candidate_id} is better ({why}) but was not activated: activation not requested"
        else:
            # The job keeps this message after other activations: name the model active *then*, never "the
            # active model" (the page words the outcome for the model active now, `Comparison.outcome`).
            message = f"{candidate_id} was not activated: {active or 'none'}, active at the time, is better {why}"
        return Promotion(comparison, False, message)
    record = registry.activate(
        candidate_id,
        reason="better" if policy == "if_better" else "forced",
        comparison=None if comparison is None else comparison.summary(),
    )
    forced = "" if better else ", activated as asked although it is not better"
    return Promotion(comparison, True, f"{candidate_id} becomes active ({why}{forced})", record)


def activate_compared(registry: Registry, model_id: str) -> ActivationRecord:
    """A person's activation of `model_id`: recorded with the comparison saved when it was trained, if any."""
    comparison = load_comparison(registry, model_id)
    return registry.activate(model_id, reason="manual", comparison=None if comparison is None else comparison.summary())
