"""Feature sets on real MediaPipe landmarks: shapes, names, selection, and invariance to pose and scale."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from core.features import FEATURE_SETS, RAW_WIDTH, build_features, split_raw, validate_feature_sets
from core.features.raw import arrays_to_matrix
from core.features.transformers import Blendshapes, GeometryFeatures, Landmarks3D
from core.schema import NUM_BLENDSHAPES, NUM_LANDMARKS
from core.training.data import TrainingData


def _moved(x: np.ndarray, seed: int) -> np.ndarray:
    """The same faces rotated in 3D, scaled and shifted."""
    lm, bs, tf = split_raw(x)
    rot = Rotation.from_euler("xyz", [10, -20, 15], degrees=True).as_matrix()
    moved = (lm - lm.mean(axis=1, keepdims=True)) @ rot.T * 1.7 + np.array([0.3, -0.1, 0.05])
    return arrays_to_matrix(moved, bs, tf)


def test_raw_rows_round_trip(variant_data: TrainingData) -> None:
    lm, bs, tf = split_raw(variant_data.x)
    assert variant_data.x.shape[1] == RAW_WIDTH
    assert lm.shape[1:] == (NUM_LANDMARKS, 3) and bs.shape[1] == NUM_BLENDSHAPES and tf.shape[1:] == (4, 4)
    with pytest.raises(ValueError, match="width"):
        split_raw(variant_data.x[:, :-1])


@pytest.mark.parametrize("alignment", ["similarity", "affine"])
def test_landmarks_are_pose_and_scale_normalized(variant_data: TrainingData, alignment: str) -> None:
    x = variant_data.x
    feats = Landmarks3D(alignment).fit(x)  # type: ignore[arg-type]
    a, b = feats.transform(x), feats.transform(_moved(x, 0))
    assert a.shape == (len(x), NUM_LANDMARKS * 3)
    np.testing.assert_allclose(a, b, atol=1e-4)
    # Different faces still differ: the normalisation does not erase the shape.
    assert np.abs(a[0] - a[1]).max() > 1e-3


def test_geometry_features_are_invariant_and_measure_the_mouth(variant_data: TrainingData) -> None:
    x = variant_data.x
    geo = GeometryFeatures().fit(x)
    names = list(geo.get_feature_names_out())
    a = geo.transform(x)
    assert a.shape == (len(x), len(names)) and np.isfinite(a).all()
    np.testing.assert_allclose(a, geo.transform(_moved(x, 1)), atol=1e-4)
    # Open the mouth: move the lower-lip half of the face down; mouth openness must grow.
    lm, bs, tf = split_raw(x[:1])
    opened = lm.copy()
    lower = opened[0, :, 1] > opened[0, 14, 1] - 1e-6
    opened[0, lower, 1] += 0.03
    b = geo.transform(arrays_to_matrix(opened, bs, tf))
    i = names.index("mouth_open")
    assert b[0, i] > a[0, i] + 0.05


def test_blendshapes_pass_through(variant_data: TrainingData) -> None:
    _, bs, _ = split_raw(variant_data.x)
    np.testing.assert_array_equal(Blendshapes().fit(variant_data.x).transform(variant_data.x), bs)


def test_sets_combine_and_unknown_names_are_refused(variant_data: TrainingData) -> None:
    x = variant_data.x
    widths = {name: build_features([name]).fit(x).transform(x).shape[1] for name in FEATURE_SETS}
    both = build_features(["blendshapes", "geometry"]).fit(x).transform(x)
    assert both.shape[1] == widths["geometry"] + widths["blendshapes"]
    assert validate_feature_sets(["blendshapes", "geometry", "blendshapes"]) == ["geometry", "blendshapes"]
    with pytest.raises(ValueError, match="valid: landmarks, geometry, blendshapes"):
        build_features(["pixels"])
    with pytest.raises(ValueError, match="at least one"):
        build_features([])
