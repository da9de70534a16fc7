"""The landmark model zoo: classifiers by name, their Pipelines, the quick and thorough grids.

Each candidate is one Pipeline (features -> StandardScaler -> classifier), so the feature reference mesh and the
scaling are fitted inside every CV fold. Classes are balanced by class weights (sample weights for the MLP, which
has no class_weight).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_sample_weight

from core.faceapi.blend import BlendedLogistic, HybridFeatures
from core.features import build_features


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


def _faceapi_blend(seed: int) -> BaseEstimator:
    return BlendedLogistic(C=0.03, weight=0.6, random_state=seed)


# name -> factory(seed). The three compared models, plus the plain floor every benchmark reports.
MODEL_ZOO: Final[dict[str, Callable[[int], BaseEstimator]]] = {
    "random_forest": _random_forest,
    "svm": _svm,
    "mlp": _mlp,
    "logistic_regression": _logistic_regression,
    "faceapi_blend": _faceapi_blend,
}
DEFAULT_MODELS: Final[tuple[str, ...]] = ("random_forest", "svm", "mlp")
# The MLP stops early on a 10% validation split only when every class can spare faces for it.
EARLY_STOPPING_MIN_PER_CLASS: Final[int] = 20
# The MLP has no class_weight: it is balanced with sample weights instead.
SAMPLE_WEIGHTED: Final[frozenset[str]] = frozenset({"mlp"})
# Models that read face-api's network rows beside the landmark rows (registry kind "hybrid").
# "faceapi_vote" is the starter's recipe (`core.faceapi.blend.VoteBlend`, fitted by bench/train.py): it reads the
# network's vote on its own framing, which the store does not cache, so it is not among the Train page's models.
HYBRID_MODELS: Final[frozenset[str]] = frozenset({"faceapi_blend", "faceapi_vote"})


@dataclass(frozen=True)
class Preset:
    folds: int
    grids: dict[str, dict[str, list[Any]]]


PRESETS: Final[dict[str, Preset]] = {
    # quick: about a minute on 2 cores for 2,000 faces (bench/train.py --only quick): small grids, a small MLP
    # that stops early, and the blend at the starter's C and weight (chosen across domains; the network rows are
    # cached by the store). thorough searches the rest.
    "quick": Preset(
        folds=3,
        grids={
            "random_forest": {"clf__n_estimators": [40], "clf__min_samples_leaf": [2, 5]},
            "svm": {"clf__C": [1.0, 10.0]},
            "mlp": {
                "clf__hidden_layer_sizes": [(64,)],
                "clf__alpha": [1e-3],
                "clf__max_iter": [100],
                "clf__n_iter_no_change": [5],
            },
            "logistic_regression": {"clf__C": [1.0]},
            "faceapi_blend": {"clf__C": [0.03], "clf__weight": [0.6]},
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
            "faceapi_blend": {
                "clf__C": [0.003, 0.01, 0.03, 0.1, 0.3],
                "clf__weight": [0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
            },
        },
    ),
}


def make_model(name: str, seed: int = 0) -> BaseEstimator:
    """A fresh classifier from the zoo; ValueError listing the valid names otherwise."""
    if name not in MODEL_ZOO:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(MODEL_ZOO)}")
    return MODEL_ZOO[name](seed)


def make_pipeline(name: str, feature_sets: Sequence[str], seed: int = 0) -> Pipeline:
    """features -> scaling -> classifier, all fitted together (so inside each CV fold). A hybrid model scales
    inside its classifier, which also reads the unscaled network logits."""
    if name in HYBRID_MODELS:
        return Pipeline([("features", HybridFeatures(list(feature_sets))), ("clf", make_model(name, seed))])
    return Pipeline(
        [("features", build_features(feature_sets)), ("scale", StandardScaler()), ("clf", make_model(name, seed))]
    )


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
    return PRESETS[name]


def fit_params(name: str, y: np.ndarray) -> dict[str, Any]:
    return {"clf__sample_weight": compute_sample_weight("balanced", y)} if name in SAMPLE_WEIGHTED else {}


def final_pipeline(name: str, pipe: Pipeline, cv: Any) -> Pipeline:
    """The pipeline to refit on all training faces. An SVM gets probabilities by sigmoid calibration on
    cross-validated decision values (the same folds as the search, so grouped by person when known)."""
    if name == "svm":
        calibrated = CalibratedClassifierCV(pipe.named_steps["clf"], method="sigmoid", cv=cv, ensemble=False)
        pipe.set_params(clf=calibrated)
    return pipe
