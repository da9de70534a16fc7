"""Landmark models: a zoo of scikit-learn classifiers compared by grid search, saved to and loaded from the registry.

Each candidate is one Pipeline (features -> StandardScaler -> classifier), so the feature reference mesh and the
scaling are fitted inside every CV fold. Folds are grouped by person when the data knows identity. Classes are
balanced by class weights (sample weights for the MLP, which has no class_weight).
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import joblib
import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (registers HalvingGridSearchCV)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    ParameterGrid,
    StratifiedGroupKFold,
    StratifiedKFold,
    train_test_split,
)
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_sample_weight

from core.errors import ModelFileCorrupt, ModelMismatch, StudioError, TrainingDataError
from core.features import DEFAULT_FEATURE_SETS, FEATURE_VERSION, build_features, faces_to_matrix, validate_feature_sets
from core.inference import FacePrediction, top_prediction
from core.registry import ModelCard, Registry, new_model_id
from core.schema import EMOTIONS
from core.store.repository import FaceData
from core.training.data import TrainingData
from core.training.report import ModelReport, classification_metrics

KIND: Final = "landmark"
ARTIFACT: Final[str] = "model.joblib"
HALVING_ABOVE: Final[int] = 12  # grids with more candidates are searched by successive halving
HOLDOUT_FRACTION: Final[float] = 0.2

ProgressFn = Callable[[int, int, str], None]


def _random_forest(seed: int) -> BaseEstimator:
    return RandomForestClassifier(
        n_estimators=100, class_weight="balanced_subsample", min_samples_leaf=1, random_state=seed, n_jobs=1
    )


def _svm(seed: int) -> BaseEstimator:
    # No probabilities while searching (they cost an internal CV); the final model is wrapped in a calibrator.
    return SVC(kernel="rbf", C=3.0, gamma="scale", class_weight="balanced", random_state=seed)


def _mlp(seed: int) -> BaseEstimator:
    return MLPClassifier(
        hidden_layer_sizes=(128,),
        alpha=1e-3,
        max_iter=300,
        early_stopping=True,
        n_iter_no_change=10,
        random_state=seed,
    )


def _logistic_regression(seed: int) -> BaseEstimator:
    return LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced", random_state=seed)


# name -> factory(seed). The three compared models, plus the plain floor every benchmark reports.
MODEL_ZOO: Final[dict[str, Callable[[int], BaseEstimator]]] = {
    "random_forest": _random_forest,
    "svm": _svm,
    "mlp": _mlp,
    "logistic_regression": _logistic_regression,
}
DEFAULT_MODELS: Final[tuple[str, ...]] = ("random_forest", "svm", "mlp")
# The MLP stops early on a 10% validation split only when every class can spare faces for it.
_EARLY_STOPPING_MIN_PER_CLASS: Final[int] = 20
# The MLP has no class_weight: it is balanced with sample weights instead.
_SAMPLE_WEIGHTED: Final[frozenset[str]] = frozenset({"mlp"})


@dataclass(frozen=True)
class Preset:
    folds: int
    grids: dict[str, dict[str, list[Any]]]


PRESETS: Final[dict[str, Preset]] = {
    "quick": Preset(
        folds=3,
        grids={
            "random_forest": {"clf__n_estimators": [60], "clf__min_samples_leaf": [2, 5]},
            "svm": {"clf__C": [1.0, 10.0]},
            "mlp": {"clf__alpha": [1e-3, 1e-2]},
            "logistic_regression": {"clf__C": [1.0]},
        },
    ),
    "thorough": Preset(
        folds=5,
        grids={
            "random_forest": {
                "clf__n_estimators": [200, 400],
                "clf__max_depth": [None, 16, 32],
                "clf__min_samples_leaf": [1, 2],
                "clf__max_features": ["sqrt", 0.2],
            },
            "svm": {"clf__C": [0.3, 1.0, 3.0, 10.0, 30.0], "clf__gamma": ["scale", 0.001, 0.003, 0.01]},
            "mlp": {
                "clf__hidden_layer_sizes": [(128,), (256,), (256, 128)],
                "clf__alpha": [1e-4, 1e-3, 1e-2],
                "clf__learning_rate_init": [1e-3, 3e-3],
            },
            "logistic_regression": {"clf__C": [0.1, 1.0, 10.0]},
        },
    ),
}


def make_model(name: str, seed: int = 0) -> BaseEstimator:
    """A fresh classifier from the zoo; ValueError listing the valid names otherwise."""
    if name not in MODEL_ZOO:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(MODEL_ZOO)}")
    return MODEL_ZOO[name](seed)


def make_pipeline(name: str, feature_sets: Sequence[str], seed: int = 0) -> Pipeline:
    """features -> scaling -> classifier, all fitted together (so inside each CV fold)."""
    return Pipeline(
        [("features", build_features(feature_sets)), ("scale", StandardScaler()), ("clf", make_model(name, seed))]
    )


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
    return PRESETS[name]


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


def _search(name: str, pipe: Pipeline, grid: dict[str, list[Any]], cv: Any, seed: int, n_jobs: int) -> Any:
    size = len(ParameterGrid(grid))
    if size > HALVING_ABOVE:
        return HalvingGridSearchCV(
            pipe,
            grid,
            cv=cv,
            scoring="f1_macro",
            factor=3,
            random_state=seed,
            n_jobs=n_jobs,
            refit=False,
            error_score="raise",
        )
    return GridSearchCV(pipe, grid, cv=cv, scoring="f1_macro", n_jobs=n_jobs, refit=False, error_score="raise")


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
) -> ComparisonResult:
    """Tune each model by cross-validated grid search on the training part, refit the best parameters, and report
    on the held-out part. `on_model` runs as each model finishes (to save it at once, so an interrupted run loses
    only the model in progress). Cancelling stops between models; the finished ones are kept."""
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
    check_trainable(train.y, folds)
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
    with tempfile.TemporaryDirectory(prefix="studio-cv-cache-") as cache_dir:
        memory = joblib.Memory(cache_dir, verbose=0)
        for step, name in enumerate(chosen):
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            if progress is not None:
                progress(step, total, f"tuning {name} ({step + 1}/{total})")
            grid = (grids or {}).get(name) or spec.grids.get(name) or {}
            report, pipe = _fit_one(name, feature_sets, grid, train, test, cv, cv_name, seed, n_jobs, classes, memory)
            result.reports.append(report)
            result.pipelines[name] = pipe
            if on_model is not None:
                on_model(result, report)
    if progress is not None:
        progress(total, total, "done" if not result.cancelled else "cancelled")
    return result


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return mask


def _fit_params(name: str, y: np.ndarray) -> dict[str, Any]:
    return {"clf__sample_weight": compute_sample_weight("balanced", y)} if name in _SAMPLE_WEIGHTED else {}


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
) -> tuple[ModelReport, Pipeline]:
    started = time.perf_counter()
    pipe = make_pipeline(name, feature_sets, seed).set_params(memory=memory)
    if name == "mlp" and min(Counter(train.y.tolist()).values()) < _EARLY_STOPPING_MIN_PER_CLASS:
        pipe.set_params(clf__early_stopping=False)
    with warnings.catch_warnings():
        # Small classes and early-stopped MLPs warn on every fold; the report shows the outcome instead.
        warnings.simplefilter("ignore", UserWarning)
        warnings.filterwarnings("ignore", module="sklearn.neural_network")
        search = _search(name, pipe, grid, cv, seed, n_jobs)
        search.fit(train.x, train.y, groups=train.groups, **_fit_params(name, train.y))
        best_i = int(search.best_index_)
        cv_mean = float(search.cv_results_["mean_test_score"][best_i])
        cv_std = float(search.cv_results_["std_test_score"][best_i])
        # The saved model must not point into the temporary cache.
        final = final_pipeline(name, clone(pipe).set_params(**search.best_params_, memory=None), cv)
        final.fit(train.x, train.y, **_fit_params(name, train.y))
    fit_time = time.perf_counter() - started
    predicted, latency = _timed_predict(final, test.x)
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
    )
    return report, final


def final_pipeline(name: str, pipe: Pipeline, cv: Any) -> Pipeline:
    """The pipeline to refit on all training faces. An SVM gets probabilities by sigmoid calibration on
    cross-validated decision values (the same folds as the search, so grouped by person when known)."""
    if name == "svm":
        calibrated = CalibratedClassifierCV(pipe.named_steps["clf"], method="sigmoid", cv=cv, ensemble=False)
        pipe.set_params(clf=calibrated)
    return pipe


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
) -> ModelCard:
    """Write a fitted pipeline and its card into the registry (atomically). The card records the artifact's
    sha256, which `load_artifact` checks before unpickling."""
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
        id=model_id or new_model_id(KIND, report.name),
        kind=KIND,
        name=report.name,
        classes=list(classes),
        feature_sets=list(report.feature_sets),
        feature_version=FEATURE_VERSION,
        metrics={**report.summary_metrics(), **(extra_metrics or {})},
        params={**report.best_params, "artifact_sha256": hashlib.sha256(payload).hexdigest()},
        data_hash=data_hash,
        data_sources=list(data_sources),
        artifact=ARTIFACT,
        notes=notes,
    )

    def write(path: Path) -> None:
        path.write_bytes(payload)

    return registry.save(card, write)


def save_report(
    registry: Registry, result: ComparisonResult, report: ModelReport, *, data_sources: Sequence[str] = ()
) -> ModelCard:
    """Save one finished model of a comparison (usable as `compare_models(on_model=...)`)."""
    card = save_model(
        registry,
        result.pipelines[report.name],
        report,
        classes=result.classes,
        data_hash=result.data_hash,
        data_sources=data_sources,
    )
    report.model_id = card.id
    result.saved[report.name] = card
    return card


def save_comparison(
    registry: Registry, result: ComparisonResult, *, data_sources: Sequence[str] = (), activate_best: bool = True
) -> dict[str, ModelCard]:
    """Save the models of a comparison not saved yet; the best by macro-F1 becomes active unless `activate_best`
    is False."""
    for report in result.reports:
        if report.name not in result.saved:
            save_report(registry, result, report, data_sources=data_sources)
    best = result.best
    if activate_best and best is not None and best.model_id:
        registry.activate(best.model_id)
    return result.saved


class LandmarkModel:
    """A loaded landmark model: satisfies `core.inference.ExpressionModel`."""

    needs_landmarks = True

    def __init__(self, card: ModelCard, pipeline: Pipeline) -> None:
        self.card = card
        self.pipeline = pipeline
        # Column order of predict_proba (the classifier's sorted labels) -> the card's order.
        own = [str(c) for c in pipeline.classes_]
        if sorted(own) != sorted(card.classes):
            raise ModelMismatch(f"model {card.id}: its artifact predicts {own}, but its card says {card.classes}")
        self._order = [own.index(c) for c in card.classes]

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of raw face rows, columns in `classes` order."""
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
    unknown = [c for c in card.classes if c not in EMOTIONS]
    if unknown:
        raise ModelMismatch(f"model {card.id} predicts unknown emotions {unknown}; valid: {', '.join(EMOTIONS)}")
    path = Path(folder) / card.artifact
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise StudioError(f"model {card.id}: cannot read {path.name}: {exc.strerror or exc}") from exc
    expected = card.params.get("artifact_sha256")
    if expected and hashlib.sha256(payload).hexdigest() != expected:
        raise ModelFileCorrupt(f"model {card.id}: {path.name} does not match the sha256 recorded in its card")
    try:
        artifact = joblib.load(io.BytesIO(payload))
    except Exception as exc:  # a truncated file or one pickled by incompatible library versions
        raise ModelFileCorrupt(f"model {card.id}: {path.name} cannot be loaded ({type(exc).__name__})") from exc
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
