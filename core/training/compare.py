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
from sklearn.metrics import f1_score
from sklearn.model_selection import (
    GridSearchCV,
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
from core.progress import ProgressFn
from core.registry import ModelCard
from core.schema import EMOTIONS
from core.settings import Settings, get_settings
from core.training.data import TrainingData
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

HALVING_ABOVE: Final[int] = 12  # grids with more candidates are searched by successive halving
HALVING_FACTOR: Final[int] = 3
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


def _uses_halving(grid: dict[str, list[Any]], cv: list[Any], y: np.ndarray) -> bool:
    """Successive halving for big grids when there are enough faces for its first, smallest round (sklearn starts
    at 2 x folds x classes samples)."""
    min_resources = 2 * len(cv) * len(np.unique(y))
    return len(ParameterGrid(grid)) > HALVING_ABOVE and len(y) >= HALVING_FACTOR * min_resources


def _search(
    pipe: Pipeline, grid: dict[str, list[Any]], cv: list[Any], y: np.ndarray, seed: int, n_jobs: int, scoring: Any
) -> Any:
    """Successive halving for big grids (`_uses_halving`); an exhaustive grid search otherwise."""
    if _uses_halving(grid, cv, y):
        return HalvingGridSearchCV(
            pipe,
            grid,
            cv=cv,
            scoring=scoring,
            factor=HALVING_FACTOR,
            random_state=seed,
            n_jobs=n_jobs,
            refit=False,
            error_score="raise",
        )
    return GridSearchCV(pipe, grid, cv=cv, scoring=scoring, n_jobs=n_jobs, refit=False, error_score="raise")


def planned_fits(grid: dict[str, list[Any]], cv: list[Any], y: np.ndarray) -> int:
    """How many fits the search of `grid` makes: candidates x folds, or the rounds of successive halving (each
    keeps a third of the candidates)."""
    candidates = len(ParameterGrid(grid))
    if not _uses_halving(grid, cv, y):
        return candidates * len(cv)
    fits = 0
    while True:
        fits += candidates * len(cv)
        if candidates <= HALVING_FACTOR - 1:
            return fits
        candidates = -(-candidates // HALVING_FACTOR)


class FitProgress:
    """The search's scorer (macro-F1, as "f1_macro") that also reports each finished fit: which candidate and fold,
    and an estimate of the time left for this model. It runs where the fits run, so it is used only when the search
    runs in this process; a parallel search reports per model."""

    def __init__(self, report: Callable[[str], None], candidates: int, folds: int, fits: int, halving: bool) -> None:
        self.report = report
        self.candidates, self.folds, self.fits, self.halving = candidates, folds, fits, halving
        self.done = 0
        self.started = time.perf_counter()

    def __call__(self, estimator: Any, x: np.ndarray, y: np.ndarray) -> float:
        score = float(f1_score(y, estimator.predict(x), average="macro"))
        self.done += 1
        elapsed = time.perf_counter() - self.started
        # What is left: the remaining fits at the mean pace so far, plus the final refit (about one fit).
        left = elapsed / self.done * (max(0, self.fits - self.done) + 1)
        if self.halving:
            where = f"fit {self.done}/~{self.fits} (successive halving of {self.candidates} candidates)"
        else:
            where = f"candidate {min(self.candidates, (self.done - 1) // self.folds + 1)}/{self.candidates}, "
            where += f"fold {(self.done - 1) % self.folds + 1}/{self.folds}"
        self.report(f"{where}, about {_duration(left)} left")
        return score


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


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
    chosen = list(dict.fromkeys(models))
    for name in chosen:
        make_model(name)  # unknown names fail before any work
    if not chosen:
        raise ValueError(f"choose at least one model: {', '.join(MODEL_ZOO)}")
    feature_sets = validate_feature_sets(feature_sets)
    spec = preset(preset_name)
    folds = folds or spec.folds
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    check_trainable(data.y, folds, held_out=1)
    train_idx, test_idx, holdout = holdout_split(data, seed)
    train, test = data.subset(_mask(len(data), train_idx)), data.subset(_mask(len(data), test_idx))
    try:
        check_trainable(train.y, folds)
    except TrainingDataError as exc:  # the held-out part took whole persons, and with them most of a rare emotion
        raise TrainingDataError(f"after holding out {len(test_idx)} faces for the test ({holdout}): {exc}") from exc
    classes = train.classes  # what the models can predict (a class seen only in the store's test set cannot be)
    splitter, cv_name = _cv(train.y, train.groups, folds, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rare classes: sklearn warns, the folds are still valid
        # Fixed folds, reused by every model and by the SVM's calibration (which cannot take groups itself).
        cv = list(splitter.split(train.x, train.y, train.groups))
    result = ComparisonResult([], {}, classes, feature_sets, holdout, data.data_hash)
    total = len(chosen)
    # The features of a training fold are the same for every candidate and every model: compute them once per fold
    # (the Pipeline's memory caches the fitted feature and scaling steps, keyed by their input and parameters).
    settings = settings or get_settings()
    with tempfile.TemporaryDirectory(prefix="studio-cv-cache-") as cache_dir:
        memory = joblib.Memory(cache_dir, verbose=0)
        for step, name in enumerate(chosen):
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            head = f"tuning {name} ({step + 1}/{total})"
            if progress is not None:
                progress(step, total, head)
            grid = (grids or {}).get(name) or spec.grids.get(name) or {}
            report_fit = None
            if progress is not None:
                report_fit = _step_reporter(progress, step, total, head)
            report, pipe = _fit_one(
                name, feature_sets, grid, train, test, cv, cv_name, seed, n_jobs, classes, memory, settings, report_fit
            )
            result.reports.append(report)
            result.pipelines[name] = pipe
            if on_model is not None:
                on_model(result, report)
    if progress is not None:
        progress(total, total, "done" if not result.cancelled else "cancelled")
    return result


def _step_reporter(progress: ProgressFn, step: int, total: int, head: str) -> Callable[[str], None]:
    return lambda detail: progress(step, total, f"{head}: {detail}")


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return mask


def _fit_one(
    name: str,
    feature_sets: list[str],
    grid: dict[str, list[Any]],
    train: TrainingData,
    test: TrainingData,
    cv: Any,
    cv_name: str,
    seed: int,
    n_jobs: int,
    classes: list[str],
    memory: joblib.Memory | None = None,
    settings: Settings | None = None,
    report_fit: Callable[[str], None] | None = None,
) -> tuple[ModelReport, Pipeline]:
    started = time.perf_counter()
    hybrid = name in HYBRID_MODELS
    train_x, test_x = train.inputs(hybrid), test.inputs(hybrid)
    pipe = make_pipeline(name, feature_sets, seed).set_params(memory=memory)
    if name == "mlp" and min(Counter(train.y.tolist()).values()) < EARLY_STOPPING_MIN_PER_CLASS:
        pipe.set_params(clf__early_stopping=False)
    with warnings.catch_warnings():
        # Small classes and early-stopped MLPs warn on every fold; the report shows the outcome instead.
        warnings.simplefilter("ignore", UserWarning)
        warnings.filterwarnings("ignore", module="sklearn.neural_network")
        # Only the search fans out (over Ray with EXECUTOR=ray); the single refit below stays in this process.
        with executor_for(settings or get_settings()).grid_search(n_jobs) as search_jobs:
            scoring: Any = "f1_macro"
            if report_fit is not None and search_jobs == 1:
                fits = planned_fits(grid, cv, train.y)
                scoring = FitProgress(
                    report_fit, len(ParameterGrid(grid)), len(cv), fits, _uses_halving(grid, cv, train.y)
                )
            elif report_fit is not None:
                report_fit(f"{len(ParameterGrid(grid))} candidates x {len(cv)} folds, {search_jobs} in parallel")
            search = _search(pipe, grid, cv, train.y, seed, search_jobs, scoring)
            search.fit(train_x, train.y, groups=train.groups, **fit_params(name, train.y))
        best_i = int(search.best_index_)
        cv_mean = float(search.cv_results_["mean_test_score"][best_i])
        cv_std = float(search.cv_results_["std_test_score"][best_i])
        # The saved model must not point into the temporary cache.
        final = final_pipeline(name, clone(pipe).set_params(**search.best_params_, memory=None), cv)
        final.fit(train_x, train.y, **fit_params(name, train.y))
    fit_time = time.perf_counter() - started
    predicted, latency = _timed_predict(final, test_x)
    present = set(classes) | set(test.y.tolist())
    metrics = classification_metrics(test.y, predicted, [e for e in EMOTIONS if e in present])
    report = ModelReport(
        name=name,
        feature_sets=feature_sets,
        cv_mean=cv_mean,
        cv_std=cv_std,
        accuracy=metrics["accuracy"],
        macro_f1=metrics["macro_f1"],
        labels=metrics["labels"],
        confusion_matrix=metrics["confusion_matrix"],
        per_class=metrics["per_class"],
        best_params={k: _plain(v) for k, v in search.best_params_.items()},
        fit_time_s=fit_time,
        predict_ms_per_sample=latency,
        n_train=len(train),
        n_test=len(test),
        cv=cv_name,
        extra={
            "search": "successive halving" if isinstance(search, HalvingGridSearchCV) else "grid",
            "candidates": len(ParameterGrid(grid)),
        },
    )
    return report, final


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
