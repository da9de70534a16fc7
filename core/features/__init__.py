"""Feature sets for the landmark models, as scikit-learn transformers over raw face rows.

A raw face row (see `raw`) holds one face's 478x3 landmarks, 52 blendshapes and 4x4 transformation matrix. Each
feature set is a transformer on such rows; `build_features(["geometry", "blendshapes"])` combines several.
Bump FEATURE_VERSION whenever a set's output changes, so that saved models built on the old features are refused.
"""

from core.features.combine import (
    DEFAULT_FEATURE_SETS,
    FEATURE_SETS,
    FEATURE_VERSION,
    build_features,
    validate_feature_sets,
)
from core.features.raw import RAW_WIDTH, faces_to_matrix, split_raw

__all__ = [
    "DEFAULT_FEATURE_SETS",
    "FEATURE_SETS",
    "FEATURE_VERSION",
    "RAW_WIDTH",
    "build_features",
    "faces_to_matrix",
    "split_raw",
    "validate_feature_sets",
]
