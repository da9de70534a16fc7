"""Retraining rounds on a real store and registry, and the figures built from them and from a simulation."""

from __future__ import annotations

import numpy as np
import pytest

from core.active_learning.rounds import history, make_held_out, retrain
from core.active_learning.simulation import SimulationResult
from core.errors import TrainingDataError
from core.imaging import encode_png
from core.landmarks.batch import extract_store
from core.models.registry import Registry
from core.settings import Settings
from core.store import Store
from core.viz.active import history_figure, simulation_figure


def _labeled(store: Store, variants: list[np.ndarray]) -> None:
    for i, rgb in enumerate(variants):
        # Flipped and upright copies get different labels: a learnable split on real landmarks.
        store.add_image(
            encode_png(rgb),
            original_name=f"v{i}.png",
            emotion="happy" if i % 2 else "sad",
            label_source="human",
            person=f"p{i // 2}",
        )
    extract_store(store, workers=1)


def test_retrain_records_rounds_on_a_fixed_held_out_set(
    store: Store, settings: Settings, face_variants: list[np.ndarray]
) -> None:
    _labeled(store, face_variants)
    registry = Registry(settings.models_dir)
    with pytest.raises(TrainingDataError, match="held-out"):
        retrain(store, registry)
    n_test = make_held_out(store, fraction=0.34, seed=0)
    assert 2 <= n_test <= 6
    with pytest.raises(TrainingDataError, match="already exists"):
        make_held_out(store)

    first = retrain(store, registry, feature_sets=["blendshapes"])
    assert registry.active_id() is None and not first.activated  # no activation unless asked for
    registry.activate(first.model_id)
    assert first.n_held_out == n_test and first.n_labels == 12 - n_test
    assert 0.0 <= first.macro_f1 <= 1.0
    model = registry.load(first.model_id)
    assert model.card.classes == ["happy", "sad"]

    second = retrain(store, registry, feature_sets=["blendshapes"], activation="if_better")
    assert second.activated == (registry.active_id() == second.model_id)
    assert registry.active_id() == (second.model_id if second.activated else first.model_id)
    rows = history(store)
    assert [r.id for r in rows] == [first.round_id, second.round_id]
    assert rows[0].held_out_hash == rows[1].held_out_hash

    fig = history_figure(rows)
    assert len(fig.data) == 1
    assert list(fig.data[0].x) == [first.n_labels, second.n_labels]
    assert list(fig.data[0].y) == pytest.approx([first.macro_f1, second.macro_f1])


def test_simulation_figure_has_two_curves_and_the_match_line() -> None:
    result = SimulationResult(
        strategy="entropy", labels=[10, 20, 30], uncertainty_f1=[0.3, 0.6, 0.7], random_f1=[0.3, 0.4, 0.55]
    )
    fig = simulation_figure(result)
    assert [t.name for t in fig.data] == ["uncertainty (entropy)", "random"]
    assert list(fig.data[0].y) == [0.3, 0.6, 0.7] and list(fig.data[1].x) == [10, 20, 30]
    assert result.labels_to_match_random() == 20
    assert any(shape.x0 == 20 for shape in fig.layout.shapes)
