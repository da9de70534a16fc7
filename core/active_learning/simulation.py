"""Uncertainty sampling against random sampling, simulated on a labeled set whose labels are hidden.

A fixed held-out part measures macro-F1. Both strategies start from the same small labeled seed (one face per class,
then random faces) and, round by round, reveal `batch` more labels: random picks at random, uncertainty picks the
faces the current model is least sure about. Same model, same seed, same budget: only the choice differs.
"""

from __future__ import annotations

import threading
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold, train_test_split
from sklearn.pipeline import Pipeline

from core.active_learning.uncertainty import uncertainty
from core.errors import DatasetFormatError
from core.progress import ProgressFn
from core.training.zoo import make_pipeline

RANDOM, UNCERTAINTY = "random", "uncertainty"


def load_landmark_cache(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(features, labels, groups or None) of a landmark cache in bench/train.py's .npz format (landmarks,
    blendshapes, transforms, labels, optionally groups), for simulating on a dataset that is not in the store."""
    from core.features.raw import arrays_to_matrix

    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("landmarks", "blendshapes", "transforms", "labels") if k not in z.files]
            if missing:
                raise DatasetFormatError(
                    f"{path} lacks the arrays {', '.join(missing)} (bench/train.py's landmark cache format)"
                )
            x = arrays_to_matrix(z["landmarks"], z["blendshapes"], z["transforms"])
            return x, z["labels"], z["groups"] if "groups" in z.files else None
    except FileNotFoundError:
        raise DatasetFormatError(f"{path} does not exist") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetFormatError(f"{path} is not a readable .npz landmark cache: {exc}") from None


@dataclass
class SimulationResult:
    strategy: str  # the uncertainty measure used
    labels: list[int]  # labels revealed after each round (round 0: the seed set)
    uncertainty_f1: list[float] = field(default_factory=list)
    random_f1: list[float] = field(default_factory=list)
    held_out: int = 0
    pool: int = 0
    cancelled: bool = False

    def labels_to_reach(self, target: float) -> int | None:
        """The fewest labels at which uncertainty sampling reaches `target` macro-F1 (None if it never does)."""
        for n, f1 in zip(self.labels, self.uncertainty_f1, strict=False):
            if f1 >= target - 1e-12:
                return n
        return None

    def labels_to_match_random(self) -> int | None:
        """Labels uncertainty sampling needs to reach the macro-F1 random sampling reaches with all of its labels."""
        if not self.random_f1:
            return None
        return self.labels_to_reach(self.random_f1[-1])

    def rows(self) -> list[dict[str, float | int]]:
        return [
            {"round": i, "labels": n, "uncertainty_f1": u, "random_f1": r}
            for i, (n, u, r) in enumerate(zip(self.labels, self.uncertainty_f1, self.random_f1, strict=False))
        ]


def _held_out_split(
    y: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(len(y))
    n_splits = max(2, round(1 / fraction))
    if groups is not None and len(np.unique(groups)) >= n_splits:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            pool, test = next(StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed).split(idx, y, groups))
        return pool, test
    pool, test = train_test_split(idx, test_size=fraction, stratify=y, random_state=seed)
    return np.sort(pool), np.sort(test)


def _seed_set(y: np.ndarray, pool: np.ndarray, size: int, rng: np.random.Generator) -> list[int]:
    """One random face of each class, then random faces up to `size`."""
    chosen = [int(rng.choice(pool[y[pool] == c])) for c in np.unique(y[pool])]
    rest = np.setdiff1d(pool, chosen)
    extra = max(0, size - len(chosen))
    chosen += [int(i) for i in rng.choice(rest, size=min(extra, len(rest)), replace=False)]
    return chosen


def simulate(
    x: np.ndarray,
    y: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    strategy: str = "margin",
    initial: int = 20,
    batch: int = 20,
    rounds: int = 10,
    model_name: str = "logistic_regression",
    feature_sets: Sequence[str] = ("blendshapes",),
    held_out_fraction: float = 0.25,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> SimulationResult:
    """Macro-F1 on a fixed held-out set after each round, for uncertainty (`strategy`) and random sampling."""
    uncertainty(np.full((1, 2), 0.5), strategy)  # unknown names fail first
    y = np.asarray(y).astype(str)
    x = np.asarray(x)
    if len(np.unique(y)) < 2:
        raise ValueError("the simulation needs labeled faces of at least two emotions")
    pool, test = _held_out_split(y, groups, held_out_fraction, seed)
    classes = sorted(np.unique(y).tolist())
    rng = np.random.default_rng(seed)
    start = _seed_set(y, pool, initial, rng)
    result = SimulationResult(strategy=strategy, labels=[], held_out=len(test), pool=len(pool))
    labeled = {RANDOM: list(start), UNCERTAINTY: list(start)}
    pick_rng = np.random.default_rng(seed + 1)
    total = rounds + 1
    for step in range(total):
        if cancel is not None and cancel.is_set():
            result.cancelled = True
            break
        result.labels.append(len(labeled[RANDOM]))
        for name in (UNCERTAINTY, RANDOM):
            chosen = np.asarray(labeled[name])
            pipe = _fit(model_name, feature_sets, seed, x[chosen], y[chosen])
            predicted = np.asarray(pipe.predict(x[test])).astype(str)
            f1 = f1_score(y[test], predicted, labels=classes, average="macro", zero_division=0)
            (result.uncertainty_f1 if name == UNCERTAINTY else result.random_f1).append(float(f1))
            if step == total - 1:
                continue
            remaining = np.setdiff1d(pool, chosen)
            if len(remaining) == 0:
                continue
            take = min(batch, len(remaining))
            if name == RANDOM:
                picked = pick_rng.choice(remaining, size=take, replace=False)
            else:
                scores = uncertainty(np.asarray(pipe.predict_proba(x[remaining])), strategy)
                picked = remaining[np.argsort(-scores, kind="stable")[:take]]
            labeled[name].extend(int(i) for i in picked)
        if progress is not None:
            progress(step + 1, total)
    return result


def _fit(model_name: str, feature_sets: Sequence[str], seed: int, x: np.ndarray, y: np.ndarray) -> Pipeline:
    pipe = make_pipeline(model_name, feature_sets, seed)
    if model_name == "svm":
        pipe.set_params(clf__probability=True)  # uncertainty needs probabilities
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny early rounds: convergence and class-size warnings are expected
        pipe.fit(x, y)
    return pipe
