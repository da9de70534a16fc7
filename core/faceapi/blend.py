"""The hybrid classifier: landmark features + face-api's logits and embedding, blended with face-api's own
(temperature-calibrated) zero-shot probabilities.

Input rows are a raw face row (`core.features.raw`, RAW_WIDTH) followed by one network row (`OUTPUT_WIDTH`: 7
logits, 256 embedding values). The Pipeline is `HybridFeatures` -> `BlendedLogistic`, so `clf__C` (regularisation)
and `clf__weight` (the blend) are tuned by the same grid search and person-grouped folds as the landmark models.
Why a blend: a classifier fitted on one dataset's faces follows that dataset; the pretrained network carries over to
faces unlike the training data (posed lab photos), so part of the answer is left to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from core.faceapi.network import (
    EMBEDDING_WIDTH,
    LOGITS_WIDTH,
    NETWORK_EMOTIONS,
    OUTPUT_WIDTH,
    softmax,
    zero_shot_proba,
)
from core.features import RAW_WIDTH, build_features

HYBRID_WIDTH: Final = RAW_WIDTH + OUTPUT_WIDTH
# Temperatures tried when calibrating the network's probabilities on the training faces (log-spaced).
TEMPERATURES: Final = np.geomspace(0.5, 8.0, 25)


def hybrid_rows(raw: np.ndarray, network: np.ndarray) -> np.ndarray:
    """Raw face rows and network rows side by side: the input of the hybrid Pipeline."""
    return np.hstack([np.asarray(raw, np.float32), np.asarray(network, np.float32)])


class HybridFeatures(TransformerMixin, BaseEstimator):
    """The chosen landmark feature sets of the raw part, then the network row unchanged (its logits stay last-but-
    embedding, where `BlendedLogistic` reads them)."""

    def __init__(self, feature_sets: Sequence[str] = ("geometry", "blendshapes")) -> None:
        self.feature_sets = feature_sets

    def fit(self, x: np.ndarray, y: Any = None) -> HybridFeatures:
        x = _check_width(x)
        self.landmarks_ = clone(build_features(self.feature_sets)).fit(x[:, :RAW_WIDTH], y)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = _check_width(x)
        features = np.asarray(self.landmarks_.transform(x[:, :RAW_WIDTH]), dtype=np.float64)
        return np.hstack([features, x[:, RAW_WIDTH:].astype(np.float64)])


class BlendedLogistic(ClassifierMixin, BaseEstimator):
    """Logistic regression on all columns (scaled), blended with the network's zero-shot probabilities:
    `(1 - weight) * LR + weight * softmax(logits / T)`. The last OUTPUT_WIDTH columns must be a network row.
    Classes the network does not know (contempt) get only the LR's share.

    T is 1 (the network's own probabilities): a temperature fitted by log loss on faces unlike the network's
    training set came out near 4 and flattened the network so much that at weight 0.8 the LR decided anyway
    (issue 18). `fit_temperature=True` restores that fit (the previous starter's recipe, kept for comparison)."""

    def __init__(
        self,
        C: float = 1.0,
        weight: float = 0.5,
        max_iter: int = 3000,
        random_state: int = 0,
        fit_temperature: bool = False,
    ) -> None:
        self.C = C
        self.weight = weight
        self.max_iter = max_iter
        self.random_state = random_state
        self.fit_temperature = fit_temperature

    def fit(self, x: np.ndarray, y: np.ndarray) -> BlendedLogistic:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"the blend weight must be in [0, 1], got {self.weight}")
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y).astype(str)
        self.scaler_ = StandardScaler().fit(x)
        self.lr_ = LogisticRegression(
            C=self.C, class_weight="balanced", max_iter=self.max_iter, random_state=self.random_state
        ).fit(self.scaler_.transform(x), y)
        self.classes_ = self.lr_.classes_
        self.temperature_ = fit_temperature(_logits(x), y, list(self.classes_)) if self.fit_temperature else 1.0
        return self

    def zero_shot(self, x: np.ndarray) -> np.ndarray:
        return zero_shot_proba(_logits(np.asarray(x, np.float64)), list(self.classes_), self.temperature_)

    def learned_proba(self, x: np.ndarray) -> np.ndarray:
        """The logistic regression's probabilities, computed directly: a live frame has one or two faces, where
        sklearn's per-call checks cost more than the arithmetic (same numbers as `lr_.predict_proba`)."""
        z = ((x - self.scaler_.mean_) / self.scaler_.scale_) @ self.lr_.coef_.T + self.lr_.intercept_
        if z.shape[1] == 1:  # two classes: one logit
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1.0 - p, p])
        return softmax(z)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.weight == 1.0:
            return self.zero_shot(x)
        learned = self.learned_proba(x)
        if self.weight == 0.0:
            return np.asarray(learned)
        return np.asarray((1.0 - self.weight) * learned + self.weight * self.zero_shot(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes_)[np.argmax(self.predict_proba(x), axis=1)]


def fit_temperature(logits: np.ndarray, y: np.ndarray, classes: Sequence[str]) -> float:
    """The temperature that minimises the log loss of the network's probabilities on the faces whose label it
    knows (1.0 when there are none)."""
    known = np.isin(y, NETWORK_EMOTIONS) & np.isin(y, list(classes))
    if not known.any():
        return 1.0
    cols = np.asarray([list(classes).index(label) for label in y[known]])
    best, best_loss = 1.0, np.inf
    for t in TEMPERATURES:
        p = zero_shot_proba(logits[known], classes, float(t))[np.arange(int(known.sum())), cols]
        loss = float(-np.mean(np.log(np.clip(p, 1e-9, 1.0))))
        if loss < best_loss:
            best, best_loss = float(t), loss
    return best


def _logits(x: np.ndarray) -> np.ndarray:
    """The network's logits inside a transformed row (they sit just before the embedding)."""
    return x[:, -OUTPUT_WIDTH:-EMBEDDING_WIDTH]


def _check_width(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != HYBRID_WIDTH:
        raise ValueError(
            f"hybrid rows have width {HYBRID_WIDTH} (raw face row + face-api row), got shape {x.shape}: "
            "compute the network rows first (from_store(..., network=True))"
        )
    return x


class VoteBlend(ClassifierMixin, BaseEstimator):
    """The starter's recipe: a logistic regression on landmark features (geometry + blendshapes) and, with
    `learned_network`, the network's logits and embedding on the stored crop (`STORE_FRAMING`), mixed with the
    network's own probabilities (temperature 1) on its vote framing (`NETWORK_FRAMING`):
    `(1 - weight) * LR + weight * softmax(vote logits)`. Rows: a raw face row, [a network row,] the 7 vote logits.
    The vote and the learned features each see the face framed as suits them; weight 1.0 is the network alone."""

    network_input = "vote"  # `core.faceapi.hybrid.HybridModel` builds `vote_rows` for it

    def __init__(
        self,
        C: float = 0.03,
        weight: float = 0.6,
        learned_network: bool = True,
        feature_sets: Sequence[str] = ("geometry", "blendshapes"),
        max_iter: int = 3000,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.weight = weight
        self.learned_network = learned_network
        self.feature_sets = feature_sets
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, x: np.ndarray, y: np.ndarray) -> VoteBlend:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"the blend weight must be in [0, 1], got {self.weight}")
        raw, _, _ = self._split(x)
        y = np.asarray(y).astype(str)
        self.features_ = clone(build_features(self.feature_sets)).fit(raw, y)
        z = self._learned_inputs(x)
        self.scaler_ = StandardScaler().fit(z)
        self.lr_ = LogisticRegression(
            C=self.C, class_weight="balanced", max_iter=self.max_iter, random_state=self.random_state
        ).fit(self.scaler_.transform(z), y)
        self.classes_ = self.lr_.classes_
        return self

    def _split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=np.float32)
        width = vote_width(self.learned_network)
        if x.ndim != 2 or x.shape[1] != width:
            raise ValueError(f"vote rows have width {width}, got shape {x.shape}: see core.faceapi.blend.vote_rows")
        return x[:, :RAW_WIDTH], x[:, RAW_WIDTH:-LOGITS_WIDTH], x[:, -LOGITS_WIDTH:]

    def _learned_inputs(self, x: np.ndarray) -> np.ndarray:
        raw, network, _ = self._split(x)
        # The union's parts one by one: FeatureUnion.transform goes through joblib, which costs more than the
        # features themselves on the one or two faces of a live frame (same numbers).
        parts = [np.asarray(t.transform(raw), np.float64) for _, t in self.features_.transformer_list]
        return np.hstack([*parts, network.astype(np.float64)])

    def learned_proba(self, x: np.ndarray) -> np.ndarray:
        z = (self._learned_inputs(x) - self.scaler_.mean_) / self.scaler_.scale_
        logits = z @ self.lr_.coef_.T + self.lr_.intercept_
        if logits.shape[1] == 1:  # two classes: one logit
            p = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.column_stack([1.0 - p, p])
        return softmax(logits)

    def zero_shot(self, x: np.ndarray) -> np.ndarray:
        return zero_shot_proba(self._split(x)[2], list(self.classes_))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self.weight == 1.0:
            return self.zero_shot(x)
        learned = self.learned_proba(x)
        if self.weight == 0.0:
            return learned
        return np.asarray((1.0 - self.weight) * learned + self.weight * self.zero_shot(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes_)[np.argmax(self.predict_proba(x), axis=1)]


def vote_width(learned_network: bool) -> int:
    return RAW_WIDTH + (OUTPUT_WIDTH if learned_network else 0) + LOGITS_WIDTH


def vote_rows(raw: np.ndarray, network: np.ndarray | None, vote_logits: np.ndarray) -> np.ndarray:
    """The input of `VoteBlend`: raw face rows, network rows of the stored crop (or None), the vote's 7 logits."""
    parts = [np.asarray(raw, np.float32)] + ([] if network is None else [np.asarray(network, np.float32)])
    return np.hstack([*parts, np.asarray(vote_logits, np.float32)])
