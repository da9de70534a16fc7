"""Selecting and combining feature sets by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from sklearn.base import BaseEstimator
from sklearn.pipeline import FeatureUnion

from core.features.transformers import Blendshapes, GeometryFeatures, Landmarks3D

# Bump when any feature set's output changes: saved models with another version are refused on load.
FEATURE_VERSION: Final[int] = 1

FEATURE_SETS: Final[dict[str, Callable[[], BaseEstimator]]] = {
    "landmarks": Landmarks3D,
    "geometry": GeometryFeatures,
    "blendshapes": Blendshapes,
}
DEFAULT_FEATURE_SETS: Final[tuple[str, ...]] = ("geometry", "blendshapes")


def validate_feature_sets(names: Sequence[str]) -> list[str]:
    """The names in canonical order, without duplicates; ValueError listing the valid ones otherwise."""
    chosen = list(dict.fromkeys(names))
    if not chosen:
        raise ValueError(f"choose at least one feature set: {', '.join(FEATURE_SETS)}")
    unknown = [n for n in chosen if n not in FEATURE_SETS]
    if unknown:
        raise ValueError(f"unknown feature set(s) {', '.join(unknown)}; valid: {', '.join(FEATURE_SETS)}")
    return [n for n in FEATURE_SETS if n in chosen]


def build_features(names: Sequence[str]) -> FeatureUnion:
    """One transformer concatenating the chosen sets (each fitted inside the caller's CV folds)."""
    return FeatureUnion([(name, FEATURE_SETS[name]()) for name in validate_feature_sets(names)])
