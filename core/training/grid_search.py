"""The cross-validated search of one model's grid: successive halving for big grids, exhaustive otherwise; how many
fits it makes; and a scorer that reports each finished fit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import numpy as np
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (registers HalvingGridSearchCV)
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, ParameterGrid
from sklearn.pipeline import Pipeline

HALVING_ABOVE: Final[int] = 12  # grids with more candidates are searched by successive halving
HALVING_FACTOR: Final[int] = 3


def uses_halving(grid: dict[str, list[Any]], cv: list[Any], y: np.ndarray) -> bool:
    """Successive halving for big grids when there are enough faces for its first, smallest round (sklearn starts
    at 2 x folds x classes samples)."""
    min_resources = 2 * len(cv) * len(np.unique(y))
    return len(ParameterGrid(grid)) > HALVING_ABOVE and len(y) >= HALVING_FACTOR * min_resources


def make_search(
    pipe: Pipeline, grid: dict[str, list[Any]], cv: list[Any], y: np.ndarray, seed: int, n_jobs: int, scoring: Any
) -> Any:
    """Successive halving for big grids (`uses_halving`); an exhaustive grid search otherwise."""
    if uses_halving(grid, cv, y):
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
    if not uses_halving(grid, cv, y):
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
