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
from datetime import UTC, datetime
from typing import Any, Final, Literal

import pandas as pd
from pydantic import BaseModel, Field

from core.atomic import atomic_write_text
from core.auth import Permission, require
from core.errors import StudioError, TrainingDataError
from core.inference import ExpressionModel
from core.registry import ActivationRecord, Registry
from core.schema import EMOTIONS, TRAINABLE_STATUSES
from core.store.repository import FaceData, Filters, Store
from core.suites.evaluate import (
    NO_FACE,  # noqa: F401  (re-exported: what a model that found no face answers)
    ModelSuiteScore,
    predict_stored_labels,
    score_domain,
)
from core.training.compare import holdout_split
from core.training.data import TrainingData, from_store
from core.training.report import classification_metrics

log = logging.getLogger("core.training.promotion")

ActivationPolicy = Literal["never", "if_better", "always"]
ACTIVATION_POLICIES: Final[tuple[str, ...]] = ("never", "if_better", "always")
COMPARISON_FILE: Final[str] = "comparison.json"
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
    """The new model against the active one on the same images: an evaluation suite's, or the held-out split."""

    candidate: ModelScore
    incumbent: ModelScore | None  # None when no model was active
    holdout: str  # which images every figure is measured on, in words
    n_images: int
    image_ids: list[int]
    n_disagreements: int = 0
    disagreements: list[Disagreement] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    # On a suite: the suite's name, both models' per-domain scores, and the largest drop a domain may take.
    suite: str | None = None
    candidate_domains: ModelSuiteScore | None = None
    incumbent_domains: ModelSuiteScore | None = None
    margin: float = 0.0

    def decision(self) -> tuple[bool, str]:
        """Whether the candidate beats the active model, and why, in words. On a suite: a higher worst-domain
        macro-F1 and no domain more than `margin` below the active model's. On the held-out split: higher macro-F1,
        or equal macro-F1 and higher accuracy. An active model that cannot be scored loses; a candidate that cannot
        be scored never wins."""
        cand, inc = self.candidate, self.incumbent
        if cand.macro_f1 is None or cand.accuracy is None:
            return False, f"the new model could not be scored: {cand.error}"
        if inc is None:
            return True, "no model was active"
        if inc.macro_f1 is None or inc.accuracy is None:
            return True, f"the active model {inc.model_id} could not be scored: {inc.error}"
        if self.suite is None:
            if (cand.macro_f1, cand.accuracy) > (inc.macro_f1, inc.accuracy):
                return True, f"macro-F1 {cand.macro_f1:.3f} vs {inc.macro_f1:.3f} on {self.holdout}"
            return False, f"on {self.holdout}: macro-F1 {inc.macro_f1:.3f} vs {cand.macro_f1:.3f}"
        new, old = self.candidate_domains, self.incumbent_domains
        new_worst = None if new is None else new.worst
        old_worst = None if old is None else old.worst
        if new is None or new_worst is None:
            return False, "the new model has no domain score on the suite"
        if old is None or old_worst is None:
            return True, f"the active model {inc.model_id} has no domain score on the suite"
        for domain in new.domains:
            before = old.domain(domain.domain)
            if before is not None and domain.macro_f1 < before.macro_f1 - self.margin:
                return False, (
                    f"on domain {domain.domain} (macro-F1 {before.macro_f1:.3f} vs {domain.macro_f1:.3f}: the new "
                    f"model drops more than the {self.margin:.2f} margin) of suite {self.suite}"
                )
        versus = (
            f"worst-domain macro-F1 {new_worst.macro_f1:.3f} ({new_worst.domain}) vs {old_worst.macro_f1:.3f} "
            f"({old_worst.domain}) on suite {self.suite}"
        )
        if new_worst.macro_f1 > old_worst.macro_f1:
            return True, versus
        return False, f"on its worst domain: {versus}"

    @property
    def better(self) -> bool:
        return self.decision()[0]

    def headline(self) -> str:
        """e.g. "macro-F1 0.612 vs 0.589 (starter), accuracy 0.660 vs 0.653 on 50 images of the store's test set"."""
        cand, inc = self.candidate, self.incumbent
        where = f"{self.n_images} images of {self.holdout}"
        if cand.macro_f1 is None or cand.accuracy is None:
            return f"the new model could not be scored: {cand.error}"
        worst = ""
        if self.candidate_domains is not None and self.candidate_domains.worst is not None:
            # Each model's own worst domain, named with its model: "web 0.23 vs posed 0.70" read as one model's two
            # domains.
            w = self.candidate_domains.worst
            worst = f"worst-domain macro-F1 {w.macro_f1:.3f} ({w.domain})"
            old = self.incumbent_domains.worst if self.incumbent_domains is not None else None
            if old is not None and inc is not None:
                worst += f" vs {old.macro_f1:.3f} ({old.domain}, {inc.model_id})"
            worst += ", "
        if inc is None:
            return f"{worst}macro-F1 {cand.macro_f1:.3f}, accuracy {cand.accuracy:.3f} on {where} (none active)"
        if inc.macro_f1 is None or inc.accuracy is None:
            return (
                f"{worst}macro-F1 {cand.macro_f1:.3f}; the active model {inc.model_id} could not be scored: {inc.error}"
            )
        return (
            f"{worst}macro-F1 {cand.macro_f1:.3f} vs {inc.macro_f1:.3f} ({inc.model_id}), accuracy {cand.accuracy:.3f} "
            f"vs {inc.accuracy:.3f} on {where}"
        )

    def outcome(self, active_now: str | None, *, activated: bool = False) -> str:
        """What became of the comparison, worded for the model active *now* (a stale comparison never names a model
        as active after another was activated)."""
        better, why = self.decision()
        cand = self.candidate.model_id
        then = None if self.incumbent is None else self.incumbent.model_id
        if active_now == cand:
            return f"{cand} is the active model" + (f" ({why})" if activated or better else "")
        if activated:
            return f"{cand} became active after this comparison; {active_now or 'no model'} is active now"
        if then is not None and active_now != then:
            return (
                f"Compared with {then}, which was active then; {active_now or 'no model'} is active now: compare "
                f"again to judge {cand} against it"
            )
        if better:
            return f"{cand} is better ({why}) but was not activated"
        return f"The active model {then} stays: it is better {why}"

    def summary(self) -> dict[str, Any]:
        """What the activation history keeps: the two scores and the images, without per-image rows."""
        return {
            "candidate": self.candidate.model_dump(),
            "incumbent": None if self.incumbent is None else self.incumbent.model_dump(),
            "holdout": self.holdout,
            "n_images": self.n_images,
            "n_disagreements": self.n_disagreements,
            "better": self.better,
            "suite": self.suite,
            "worst_domain": _worst_summary(self.candidate_domains),
            "incumbent_worst_domain": _worst_summary(self.incumbent_domains),
        }


def _worst_summary(score: ModelSuiteScore | None) -> dict[str, Any] | None:
    worst = None if score is None else score.worst
    return None if worst is None else {"domain": worst.domain, "macro_f1": worst.macro_f1}


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
    per_domain: dict[str, ModelSuiteScore] = {}
    if held.suite is not None:
        for model_id, predicted in predictions.items():
            per_domain[model_id] = _domain_scores(model_id, held, predicted)
            # Model cards keep their suite results, whoever scored them.
            registry.record_suite_result(model_id, held.suite, per_domain[model_id].card_summary(held.suite))
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


def side_by_side(comparison: Comparison, *, stale: bool = False) -> pd.DataFrame:
    """Rows: accuracy, macro-F1, F1 per emotion; columns: the new model and the active one (`stale`: the one that
    was active then, when another has been activated since)."""
    columns = {"new": comparison.candidate}
    if comparison.incumbent is not None and comparison.incumbent.model_id != comparison.candidate.model_id:
        columns["active then" if stale else "active"] = comparison.incumbent
    emotions = [e for e in EMOTIONS if any(e in s.per_class_f1 for s in columns.values())]
    index = ["accuracy", "macro-F1"] + [f"F1 {e}" for e in emotions]
    data = {
        f"{name} ({score.model_id})": [score.accuracy, score.macro_f1] + [score.per_class_f1.get(e) for e in emotions]
        for name, score in columns.items()
    }
    return pd.DataFrame(data, index=index)


def domain_versus(comparison: Comparison) -> pd.DataFrame:
    """On a suite: one row a domain, the two models' macro-F1 and the change (what the decision looks at)."""
    new, old = comparison.candidate_domains, comparison.incumbent_domains
    rows = []
    for d in [] if new is None else new.domains:
        before = None if old is None else old.domain(d.domain)
        rows.append(
            {
                "domain": d.domain,
                f"new ({new.model_id})" if new else "new": d.macro_f1,
                f"active ({old.model_id})" if old else "active": None if before is None else before.macro_f1,
                "change": None if before is None else d.macro_f1 - before.macro_f1,
                "faces": f"{d.n_faces}/{d.n_images}",
            }
        )
    return pd.DataFrame(rows).set_index("domain") if rows else pd.DataFrame()


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
