"""Choosing the hybrid model's C and blend weight by person-grouped CV *and* cross-dataset validation.

In-domain CV on one kind of photo underweights the pretrained network (a classifier fitted on those photos wins
there), yet the network is what carries over to other kinds of faces. So each (C, weight) is scored twice: by
person-grouped CV on all faces, and by fitting on each dataset and validating on the others; the candidate with
the best mean of the two is chosen. Test data is never involved. One fit per C and split serves every weight (the
weight only mixes two probability tables).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline

from core.errors import TrainingDataError
from core.training.zoo import make_pipeline

MODEL = "faceapi_blend"


@dataclass
class BlendChoice:
    C: float
    weight: float
    grouped_cv: float  # macro-F1 of the chosen candidate, pooled over the person-grouped folds
    cross_dataset: float  # mean macro-F1 over the cross-dataset directions (nan with one dataset)
    table: list[dict[str, float]] = field(default_factory=list)  # every candidate's scores


def _fit_split(
    x: np.ndarray, y: np.ndarray, train: np.ndarray, feature_sets: Sequence[str], c: float, seed: int
) -> Pipeline:
    pipe = make_pipeline(MODEL, feature_sets, seed).set_params(clf__C=c, clf__weight=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny folds: the scores say how it went
        pipe.fit(x[train], y[train])
    return pipe


def _tables(pipe: Pipeline, x: np.ndarray, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Learned and zero-shot probabilities, columns in `classes` order (a class the fold lacks gets 0)."""
    features = pipe[:-1].transform(x)
    clf = pipe[-1]
    cols = [classes.index(str(c)) for c in clf.classes_]
    learned = np.zeros((len(x), len(classes)))
    zero_shot = np.zeros((len(x), len(classes)))
    learned[:, cols] = clf.learned_proba(features)
    zero_shot[:, cols] = clf.zero_shot(features)
    return learned, zero_shot


def choose_blend(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    datasets: np.ndarray | None = None,
    feature_sets: Sequence[str] = ("geometry", "blendshapes"),
    cs: Sequence[float] = (0.003, 0.01, 0.03, 0.1),
    weights: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8),
    folds: int = 3,
    seed: int = 0,
) -> BlendChoice:
    """The (C, weight) with the best mean of person-grouped CV macro-F1 and cross-dataset macro-F1 (`datasets`
    names each row's dataset; with fewer than two, only the grouped CV counts). `x` holds hybrid rows."""
    y = np.asarray(y).astype(str)
    groups = np.asarray(groups).astype(str)
    if len(np.unique(groups)) < folds:
        raise TrainingDataError(f"person-grouped {folds}-fold CV needs at least {folds} persons")
    classes = sorted(set(y.tolist()))
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        grouped = list(splitter.split(x, y, groups))
    datasets = None if datasets is None else np.asarray(datasets).astype(str)
    names = [] if datasets is None else sorted(set(datasets.tolist()))
    cross = [(np.flatnonzero(datasets != d), np.flatnonzero(datasets == d)) for d in names] if len(names) > 1 else []
    table = []
    for c in cs:
        # Pooled out-of-fold tables for the grouped CV; one table per cross-dataset direction.
        learned = np.zeros((len(y), len(classes)))
        zero_shot = np.zeros((len(y), len(classes)))
        for train, test in grouped:
            learned[test], zero_shot[test] = _tables(_fit_split(x, y, train, feature_sets, c, seed), x[test], classes)
        directions = []
        for train, test in cross:
            pipe = _fit_split(x, y, train, feature_sets, c, seed)
            directions.append((test, *_tables(pipe, x[test], classes)))
        for w in weights:
            pred = np.asarray(classes)[np.argmax((1 - w) * learned + w * zero_shot, axis=1)]
            cv_f1 = float(f1_score(y, pred, average="macro"))
            cross_f1s = [
                float(
                    f1_score(
                        y[test],
                        np.asarray(classes)[np.argmax((1 - w) * lt + w * zt, axis=1)],
                        labels=sorted(set(y[test].tolist())),
                        average="macro",
                    )
                )
                for test, lt, zt in directions
            ]
            cross_f1 = float(np.mean(cross_f1s)) if cross_f1s else float("nan")
            score = cv_f1 if not cross_f1s else (cv_f1 + cross_f1) / 2
            table.append(
                {"C": float(c), "weight": float(w), "grouped_cv": cv_f1, "cross_dataset": cross_f1, "score": score}
            )
    best = max(table, key=lambda r: (r["score"], -r["weight"]))
    return BlendChoice(best["C"], best["weight"], best["grouped_cv"], best["cross_dataset"], table)
