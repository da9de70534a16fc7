"""Comparison of landmark models: grid search with (person-grouped) stratified folds, a held-out report per model."""

from __future__ import annotations

import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (registers HalvingGridSearchCV)
from sklearn.model_selection import (
    HalvingGridSearchCV,
    ParameterGrid,
    StratifiedGroupKFold,
    StratifiedKFold,
    train_test_split,
)
from sklearn.pipeline import Pipeline

from core.auth import Permission, require
from core.errors import TrainingDataError
from core.executors.executor import executor_for
from core.features import DEFAULT_FEATURE_SETS, validate_feature_sets
from core.models.registry import ModelCard
from core.progress import ProgressFn
from core.schema import EMOTIONS
from core.settings import Settings, get_settings
from core.training.data import TrainingData
from core.training.grid_search import FitProgress, make_search, planned_fits, uses_halving
from core.training.report import ModelReport, classification_metrics
from core.training.zoo import (
    DEFAULT_MODELS,
    EARLY_STOPPING_MIN_PER_CLASS,
    HYBRID_MODELS,
    MODEL_ZOO,
    final_pipeline,
    fit_params,
    make_model,
    make_pipeline,
    preset,
)

HOLDOUT_FRACTION: Final[float] = 0.2


# ---- data checks and splits ------------------------------------------------------------------------------------
def check_trainable(y: np.ndarray, folds: int, *, held_out: int = 0) -> None:
    """Refuse data that cannot train and cross-validate a classifier, with a message saying what is missing.
    Each emotion needs `folds` faces for the CV plus `held_out` more for the held-out test."""
    labels, counts = np.unique(np.asarray(y, dtype=str), return_counts=True)
    if len(labels) < 2:
        found = f"only {labels[0]!r} ({counts[0]} faces)" if len(labels) else "no labeled faces"
        raise TrainingDataError(f"training needs at least two emotions with faces; found {found}")
    need = folds + held_out
    short = [f"{lab} ({n})" for lab, n in zip(labels, counts, strict=True) if n < need]
    if short:
        why = f"{folds}-fold cross-validation" + (f" plus {held_out} held out" if held_out else "")
        raise TrainingDataError(
            f"each emotion needs at least {need} faces ({why}); too few: "
            f"{', '.join(short)}. Add faces, leave these emotions out, or use fewer folds."
        )


def _cv(y: np.ndarray, groups: np.ndarray | None, folds: int, seed: int) -> tuple[Any, str]:
    if groups is not None and len(np.unique(groups)) >= folds:
        return StratifiedGroupKFold(folds, shuffle=True, random_state=seed), f"StratifiedGroupKFold({folds}) by person"
    note = "" if groups is None else f" (only {len(np.unique(groups))} persons: not grouped)"
    return StratifiedKFold(folds, shuffle=True, random_state=seed), f"StratifiedKFold({folds}){note}"


def holdout_split(
    data: TrainingData, seed: int, fraction: float = HOLDOUT_FRACTION
) -> tuple[np.ndarray, np.ndarray, str]:
    """Train and held-out indices: the store's "test" rows when there are any, else a stratified split that keeps
    each person on one side."""
    n = len(data)
    idx = np.arange(n)
    if data.held_out is not None and data.held_out.any() and (~data.held_out).any():
        return idx[~data.held_out], idx[data.held_out], "the store's test set"
    n_splits = max(2, round(1 / fraction))
    if data.groups is not None and len(np.unique(data.groups)) >= n_splits:
        splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # rare classes: sklearn warns, the split is still valid
            train, test = next(splitter.split(data.x, data.y, data.groups))
        return train, test, f"{fraction:.0%} of persons held out"
    train, test = train_test_split(idx, test_size=fraction, stratify=data.y, random_state=seed)
    return np.sort(train), np.sort(test), f"stratified {fraction:.0%} held out"


# ---- comparison ------------------------------------------------------------------------------------------------
@dataclass
class ComparisonResult:
    reports: list[ModelReport]
    pipelines: dict[str, Pipeline]  # name -> final fitted pipeline
    classes: list[str]
    feature_sets: list[str]
    holdout: str
    data_hash: str
    cancelled: bool = False
    saved: dict[str, ModelCard] = field(default_factory=dict)

    @property
    def best(self) -> ModelReport | None:
        """The best model by held-out macro-F1 (CV mean breaks ties)."""
        if not self.reports:
            return None
        return max(self.reports, key=lambda r: (r.macro_f1, r.cv_mean))


@dataclass(frozen=True)
class _Setup:
    """What the search of every model shares: the two parts of the data, the fixed folds, where the work runs."""

    feature_sets: list[str]
    train: TrainingData
    test: TrainingData
    cv: list[Any]
    cv_name: str
    classes: list[str]  # what the models can predict (a class seen only in the store's test set cannot be)
    seed: int
    n_jobs: int
    settings: Settings
    memory: joblib.Memory | None = None


def compare_models(
    data: TrainingData,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    feature_sets: Sequence[str] = DEFAULT_FEATURE_SETS,
    preset_name: str = "quick",
    grids: dict[str, dict[str, list[Any]]] | None = None,
    folds: int | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    on_model: Callable[[ComparisonResult, ModelReport], object] | None = None,
    settings: Settings | None = None,
) -> ComparisonResult:
    """Tune each model by cross-validated grid search on the training part, refit the best parameters, and report
    on the held-out part. With EXECUTOR=ray (`settings`, else the process's) the searches spread over the cluster.
    `on_model` runs as each model finishes (to save it at once, so an interrupted run loses only the model in
    progress). Cancelling stops between models; the finished ones are kept."""
    require(Permission.TRAIN)
    chosen = _chosen_models(models)
    feature_sets = validate_feature_sets(feature_sets)
    spec = preset(preset_name)
    folds = folds or spec.folds
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    train, test, holdout = _split_for_comparison(data, folds, seed)
    cv, cv_name = _fixed_folds(train, folds, seed)
    result = ComparisonResult([], {}, train.classes, feature_sets, holdout, data.data_hash)
    total = len(chosen)
    settings = settings or get_settings()
    # The features of a training fold are the same for every candidate and every model: compute them once per fold
    # (the Pipeline's memory caches the fitted feature and scaling steps, keyed by their input and parameters).
    with tempfile.TemporaryDirectory(prefix="studio-cv-cache-") as cache_dir:
        memory = joblib.Memory(cache_dir, verbose=0)
        setup = _Setup(feature_sets, train, test, cv, cv_name, train.classes, seed, n_jobs, settings, memory)
        for step, name in enumerate(chosen):
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            report_fit = _announce(progress, step, total, f"tuning {name} ({step + 1}/{total})")
            grid = (grids or {}).get(name) or spec.grids.get(name) or {}
            report, pipe = _fit_one(name, grid, setup, report_fit)
            result.reports.append(report)
            result.pipelines[name] = pipe
            if on_model is not None:
                on_model(result, report)
    if progress is not None:
        progress(total, total, "done" if not result.cancelled else "cancelled")
    return result


def _chosen_models(models: Sequence[str]) -> list[str]:
    """The models to compare, once each; unknown names fail before any work."""
    chosen = list(dict.fromkeys(models))
    for name in chosen:
        make_model(name)
    if not chosen:
        raise ValueError(f"choose at least one model: {', '.join(MODEL_ZOO)}")
    return chosen


def _split_for_comparison(data: TrainingData, folds: int, seed: int) -> tuple[TrainingData, TrainingData, str]:
    """The training and held-out parts (and the split in words), each emotion with enough faces for the folds."""
    check_trainable(data.y, folds, held_out=1)
    train_idx, test_idx, holdout = holdout_split(data, seed)
    train, test = data.subset(_mask(len(data), train_idx)), data.subset(_mask(len(data), test_idx))
    try:
        check_trainable(train.y, folds)
    except TrainingDataError as exc:  # the held-out part took whole persons, and with them most of a rare emotion
        raise TrainingDataError(f"after holding out {len(test_idx)} faces for the test ({holdout}): {exc}") from exc
    return train, test, holdout


def _fixed_folds(train: TrainingData, folds: int, seed: int) -> tuple[list[Any], str]:
    """Fixed folds, reused by every model and by the SVM's calibration (which cannot take groups itself)."""
    splitter, cv_name = _cv(train.y, train.groups, folds, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rare classes: sklearn warns, the folds are still valid
        return list(splitter.split(train.x, train.y, train.groups)), cv_name


def _announce(progress: ProgressFn | None, step: int, total: int, head: str) -> Callable[[str], None] | None:
    """Report the start of a model's tuning; the returned function reports its fits (None without `progress`)."""
    if progress is None:
        return None
    progress(step, total, head)
    return lambda detail: progress(step, total, f"{head}: {detail}")


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return mask


def _fit_one(
    name: str, grid: dict[str, list[Any]], setup: _Setup, report_fit: Callable[[str], None] | None = None
) -> tuple[ModelReport, Pipeline]:
    """Search `grid` for model `name` on the training part, refit its best parameters, report on the held-out part."""
    started = time.perf_counter()
    hybrid = name in HYBRID_MODELS
    train, test = setup.train, setup.test
    train_x, test_x = train.inputs(hybrid), test.inputs(hybrid)
    pipe = make_pipeline(name, setup.feature_sets, setup.seed).set_params(memory=setup.memory)
    if name == "mlp" and min(Counter(train.y.tolist()).values()) < EARLY_STOPPING_MIN_PER_CLASS:
        pipe.set_params(clf__early_stopping=False)
    with warnings.catch_warnings():
        # Small classes and early-stopped MLPs warn on every fold; the report shows the outcome instead.
        warnings.simplefilter("ignore", UserWarning)
        warnings.filterwarnings("ignore", module="sklearn.neural_network")
        search = _run_search(name, pipe, grid, train_x, setup, report_fit)
        # The saved model must not point into the temporary cache.
        final = final_pipeline(name, clone(pipe).set_params(**search.best_params_, memory=None), setup.cv)
        final.fit(train_x, train.y, **fit_params(name, train.y))
    fit_time = time.perf_counter() - started
    predicted, latency = _timed_predict(final, test_x)
    return _report(name, grid, setup, search, predicted, fit_time, latency), final


def _run_search(
    name: str,
    pipe: Pipeline,
    grid: dict[str, list[Any]],
    train_x: np.ndarray,
    setup: _Setup,
    report_fit: Callable[[str], None] | None,
) -> Any:
    """The fitted cross-validated search of `grid` (not refit)."""
    y = setup.train.y
    # Only the search fans out (over Ray with EXECUTOR=ray); the single refit after it stays in this process.
    with executor_for(setup.settings).grid_search(setup.n_jobs) as search_jobs:
        scoring: Any = "f1_macro"
        if report_fit is not None and search_jobs == 1:
            fits = planned_fits(grid, setup.cv, y)
            scoring = FitProgress(
                report_fit, len(ParameterGrid(grid)), len(setup.cv), fits, uses_halving(grid, setup.cv, y)
            )
        elif report_fit is not None:
            report_fit(f"{len(ParameterGrid(grid))} candidates x {len(setup.cv)} folds, {search_jobs} in parallel")
        search = make_search(pipe, grid, setup.cv, y, setup.seed, search_jobs, scoring)
        search.fit(train_x, y, groups=setup.train.groups, **fit_params(name, y))
    return search


def _report(
    name: str,
    grid: dict[str, list[Any]],
    setup: _Setup,
    search: Any,
    predicted: np.ndarray,
    fit_time: float,
    latency: float,
) -> ModelReport:
    """The model's report: its cross-validation score, held-out metrics, best parameters and costs."""
    test = setup.test
    best_i = int(search.best_index_)
    present = set(setup.classes) | set(test.y.tolist())
    metrics = classification_metrics(test.y, predicted, [e for e in EMOTIONS if e in present])
    return ModelReport(
        name=name,
        feature_sets=setup.feature_sets,
        cv_mean=float(search.cv_results_["mean_test_score"][best_i]),
        cv_std=float(search.cv_results_["std_test_score"][best_i]),
        accuracy=metrics["accuracy"],
        macro_f1=metrics["macro_f1"],
        labels=metrics["labels"],
        confusion_matrix=metrics["confusion_matrix"],
        per_class=metrics["per_class"],
        best_params={k: _plain(v) for k, v in search.best_params_.items()},
        fit_time_s=fit_time,
        predict_ms_per_sample=latency,
        n_train=len(setup.train),
        n_test=len(test),
        cv=setup.cv_name,
        extra={
            "search": "successive halving" if isinstance(search, HalvingGridSearchCV) else "grid",
            "candidates": len(ParameterGrid(grid)),
        },
    )


def _timed_predict(pipe: Pipeline, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Predictions and the per-sample latency in ms (features included: what a live frame pays)."""
    if len(x) == 0:
        return np.zeros(0, dtype=str), 0.0
    t0 = time.perf_counter()
    proba = pipe.predict_proba(x)
    elapsed = time.perf_counter() - t0
    predicted = np.asarray(pipe.classes_)[np.argmax(proba, axis=1)]
    one = x[:1]
    t1 = time.perf_counter()
    for _ in range(5):
        pipe.predict_proba(one)
    single = (time.perf_counter() - t1) / 5
    # A batch amortises overhead; a live frame predicts one face at a time: report the single-face cost.
    return predicted, 1000 * max(single, elapsed / len(x))


def _plain(value: Any) -> Any:
    """JSON-friendly parameter values (tuples become lists, numpy scalars become Python ones)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
