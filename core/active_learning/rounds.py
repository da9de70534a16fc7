"""Training rounds: retrain on the current training set with one call, score it on the fixed held-out set (the
store's "test" images), save the model, and keep a history of macro-F1 against the number of labels. The new model
becomes active only as the caller's activation policy says (`core.training.promotion`; none by default).
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.pipeline import Pipeline
from sqlalchemy import select

from core.active_learning.round_result import RoundResult
from core.active_learning.tables import RoundRow
from core.auth import Permission, require
from core.db import session_scope
from core.errors import TrainingDataError
from core.features import DEFAULT_FEATURE_SETS
from core.models.registry import Registry
from core.schema import STATUS_TEST, STATUS_TRAIN
from core.store import Store
from core.training.compare import check_trainable, holdout_split
from core.training.data import TrainingData, from_store
from core.training.landmark_artifact import save_model
from core.training.promotion import ActivationPolicy, promote
from core.training.report import ModelReport, classification_metrics
from core.training.zoo import make_pipeline

DEFAULT_MODEL = "logistic_regression"  # fast and well calibrated: uncertainty scores need honest probabilities


def held_out_hash(image_ids: Sequence[int]) -> str:
    """Identity of a held-out set: rounds are comparable only when it is the same."""
    return hashlib.sha256(",".join(map(str, sorted(image_ids))).encode()).hexdigest()[:16]


def make_held_out(store: Store, *, fraction: float = 0.2, seed: int = 0) -> int:
    """Fix a held-out set once: move a stratified `fraction` of the labeled training faces (whole persons where
    known) to status "test". Refused when a held-out set already exists, because rounds must share one."""
    require(Permission.TRAIN)
    data = from_store(store)
    if data.held_out is not None and data.held_out.any():
        raise TrainingDataError(f"a held-out set of {int(data.held_out.sum())} faces already exists")
    check_trainable(data.y, 2)
    _, test_idx, _ = holdout_split(data, seed, fraction)
    ids = [data.image_ids[int(i)] for i in test_idx]
    # One transaction, all or nothing: a half-moved held-out set would skew every round.
    store.transition_many(ids, from_status=STATUS_TRAIN, to_status=STATUS_TEST)
    return len(ids)


def retrain(
    store: Store,
    registry: Registry,
    *,
    model_name: str = DEFAULT_MODEL,
    feature_sets: Sequence[str] = DEFAULT_FEATURE_SETS,
    seed: int = 0,
    activation: ActivationPolicy = "never",
) -> RoundResult:
    """Fit `model_name` on every labeled training face, measure it on the held-out set, save it to the registry,
    record the round, and compare it with the active model (activated as `activation` says: "never" by default,
    "if_better" or "always")."""
    require(Permission.TRAIN)
    data = from_store(store)
    held = data.held_out if data.held_out is not None else np.zeros(len(data), dtype=bool)
    if not held.any():
        raise TrainingDataError("no held-out set: fix one first (it measures every round on the same faces)")
    train, test = data.subset(~held), data.subset(held)
    if len(train.classes) < 2:
        raise TrainingDataError(f"retraining needs labeled faces of at least two emotions; found {train.classes}")
    # Scored over every emotion of the held-out set: one the model never saw counts as 0.
    pipe, report = _fit_and_score(train, test, data.classes, model_name, feature_sets, seed)
    card = save_model(
        registry,
        pipe,
        report,
        classes=train.classes,
        data_hash=data.data_hash,
        data_sources=data.sources,
        notes="active-learning round",
    )
    round_id = _record_round(store, report, card.id, test.image_ids)
    promotion = promote(registry, store, card.id, policy=activation, seed=seed)
    return RoundResult(
        round_id=round_id,
        model_id=card.id,
        n_labels=len(train),
        n_held_out=len(test),
        macro_f1=report.macro_f1,
        accuracy=report.accuracy,
        activated=promotion.activated,
        activation_message=promotion.message,
    )


def _fit_and_score(
    train: TrainingData,
    test: TrainingData,
    classes: list[str],
    model_name: str,
    feature_sets: Sequence[str],
    seed: int,
) -> tuple[Pipeline, ModelReport]:
    """The model fitted on `train` and its report on `test` (no cross-validation: a round is one fit)."""
    started = time.perf_counter()
    pipe = make_pipeline(model_name, feature_sets, seed)
    if model_name == "svm":
        pipe.set_params(clf__probability=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small classes warn; the held-out score shows the outcome
        pipe.fit(train.x, train.y)
    fit_time = time.perf_counter() - started
    predicted = np.asarray(pipe.predict(test.x)).astype(str)
    metrics = classification_metrics(test.y, predicted, classes)
    report = ModelReport(
        name=model_name,
        feature_sets=list(feature_sets),
        cv_mean=float("nan"),
        cv_std=float("nan"),
        accuracy=metrics["accuracy"],
        macro_f1=metrics["macro_f1"],
        labels=classes,
        confusion_matrix=metrics["confusion_matrix"],
        per_class=metrics["per_class"],
        best_params={},
        fit_time_s=fit_time,
        predict_ms_per_sample=0.0,
        n_train=len(train),
        n_test=len(test),
        cv="active-learning round (no CV)",
    )
    return pipe, report


def _record_round(store: Store, report: ModelReport, model_id: str, held_out_ids: Sequence[int]) -> int:
    """The round's row in the history (its id): labels used, held-out size and identity, scores, model."""
    with session_scope(store.engine) as session:
        row = RoundRow(
            n_labels=report.n_train,
            n_held_out=report.n_test,
            macro_f1=report.macro_f1,
            accuracy=report.accuracy,
            model_id=model_id,
            model_name=report.name,
            held_out_hash=held_out_hash(held_out_ids),
        )
        session.add(row)
        session.flush()
        return row.id


def history(store: Store) -> list[RoundRow]:
    """Every recorded round, oldest first."""
    with session_scope(store.engine) as session:
        return list(session.scalars(select(RoundRow).order_by(RoundRow.id)))
