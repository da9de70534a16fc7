"""Promotion by comparison on a real store and registry: the gate, the activation history, rollback, the CLI flags.

Two landmark models with a known order on any held-out set: a 1-nearest-neighbour model fitted on every face
(including the held-out ones, so it gets each of them right) and a constant model that always says "happy"
(so it gets every "surprise" wrong). No score threshold is involved: only which of the two is better.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import numpy as np
import pytest

from core.auth import LOCAL_USER, Role, User, acting_as
from core.cli import main
from core.errors import StudioError
from core.inference import FacePrediction, top_prediction
from core.models.registry import HISTORY_FILE, ModelCard, Registry
from core.settings import PROJECT_ROOT, Settings
from core.store import Store
from core.store.repository import FaceData
from core.training.promotion import (
    NO_FACE,
    _predict_all,
    compare_with_active,
    held_out_set,
    load_comparison,
    promote,
    side_by_side,
)
from tests.ci import skip_or_fail
from tests.training.conftest import fill_store, store_with_two_models


@pytest.fixture
def two_models(settings: Settings, variant_faces: list[tuple[bytes, FaceData, str]]) -> tuple[Store, Registry]:
    return store_with_two_models(settings, variant_faces)


def test_a_worse_model_is_not_activated_unless_forced(two_models: tuple[Store, Registry]) -> None:
    store, registry = two_models
    registry.activate("good")
    held = held_out_set(store)
    n_surprise = held.labels.count("surprise")
    assert n_surprise >= 1 and held.labels.count("happy") >= 1

    by_default = promote(registry, store, "constant")
    assert not by_default.activated and registry.active_id() == "good"
    gated = promote(registry, store, "constant", policy="if_better")
    assert not gated.activated and registry.active_id() == "good"
    # The job keeps the message after later activations: it names the model active at the time, not "the active".
    assert gated.message.startswith("constant was not activated: good, active at the time, is better on the held-out")
    comparison = gated.comparison
    assert comparison is not None and not comparison.better
    assert comparison.incumbent is not None and comparison.incumbent.model_id == "good"
    assert comparison.image_ids == held.image_ids and comparison.n_images == len(held.image_ids)
    # The constant model is wrong exactly on the "surprise" faces, where the 1-NN model is right.
    assert comparison.n_disagreements == n_surprise
    assert {(d.label, d.candidate, d.incumbent) for d in comparison.disagreements} == {
        ("surprise", "happy", "surprise")
    }
    assert comparison.incumbent.macro_f1 == 1.0 and comparison.candidate.per_class_f1["surprise"] == 0.0
    table = side_by_side(comparison)
    assert list(table.columns) == ["new (constant)", "active (good)"]
    assert {"accuracy", "macro-F1", "F1 happy", "F1 surprise"} == set(table.index)
    # The comparison is kept beside the new model, so the page can show it after a reload.
    saved = load_comparison(registry, "constant")
    assert saved is not None and saved.n_disagreements == n_surprise

    with acting_as(User("ana@example.org", Role.TRAINER)):
        forced = promote(registry, store, "constant", policy="always")
    assert forced.activated and registry.active_id() == "constant"
    assert forced.record is not None and forced.record.reason == "forced" and forced.record.actor == "ana@example.org"


def test_a_better_model_is_activated_only_when_opted_in(two_models: tuple[Store, Registry]) -> None:
    store, registry = two_models
    registry.activate("constant")
    assert not promote(registry, store, "good").activated
    assert registry.active_id() == "constant"
    promoted = promote(registry, store, "good", policy="if_better")
    assert promoted.activated and registry.active_id() == "good"
    assert promoted.comparison is not None and promoted.comparison.better


def test_history_records_every_activation_and_rollback_restores(two_models: tuple[Store, Registry]) -> None:
    store, registry = two_models
    assert registry.history() == []
    with pytest.raises(StudioError, match="nothing to roll back"):
        registry.rollback()
    registry.activate("constant")
    with acting_as(User("bo@example.org", Role.TRAINER)):  # who activated is the acting user
        promote(registry, store, "good", policy="if_better")
    history = registry.history()
    assert [(r.model_id, r.previous_id, r.reason) for r in history] == [
        ("good", "constant", "better"),
        ("constant", None, "manual"),
    ]
    assert history[0].actor == "bo@example.org" and history[1].actor == LOCAL_USER.id
    assert history[0].comparison is not None and history[0].comparison["better"] is True
    assert history[0].comparison["incumbent"]["model_id"] == "constant"

    record = registry.rollback()
    assert registry.active_id() == "constant"
    assert (record.model_id, record.previous_id, record.reason) == ("constant", "good", "rollback")
    assert len(registry.history()) == 3
    registry.rollback(to_id="good")
    assert registry.active_id() == "good"

    # A torn line (a crash mid-append) is skipped, the rest of the history still reads.
    with (registry.root / HISTORY_FILE).open("a") as fh:
        fh.write('{"model_id": "trunc')
    assert len(registry.history()) == 4
    registry.delete("constant")
    with pytest.raises(StudioError, match="deleted"):
        registry.rollback(to_id="constant")


def test_an_active_model_that_no_longer_loads_loses_visibly(two_models: tuple[Store, Registry]) -> None:
    store, registry = two_models
    registry.activate("constant")
    (registry.folder("constant") / "model.joblib").write_bytes(b"corrupt")
    comparison = compare_with_active(registry, store, "good")
    assert comparison.incumbent is not None and comparison.incumbent.macro_f1 is None
    assert "sha256" in comparison.incumbent.error and comparison.better


def test_cli_train_activates_only_with_a_flag(
    app_env: Settings, variant_faces: list[tuple[bytes, FaceData, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    fill_store(Store(app_env), variant_faces)
    registry = Registry(app_env.models_dir)
    args = ["train", "--models", "random_forest", "--features", "blendshapes", "--folds", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert registry.active_id() is None and "not activated: activation not requested" in out
    assert "new (" in out  # the side-by-side table
    assert main([*args, "--force-activate"]) == 0
    forced = registry.active_id()
    assert forced is not None and "becomes active" in capsys.readouterr().out
    assert registry.history()[0].reason == "forced"

    assert main(["models", "history"]) == 0
    assert forced in capsys.readouterr().out
    other = next(c.id for c in registry.list() if c.id != forced)
    assert main(["models", "activate", other]) == 0 and registry.active_id() == other
    assert main(["models", "rollback"]) == 0 and registry.active_id() == forced


def test_activation_files_are_ignored_by_git() -> None:
    """After an activation, `git status` must not list models/active.json (nor the history) as untracked, while
    the shipped starter model stays tracked."""
    if not (PROJECT_ROOT / ".git").exists():
        skip_or_fail("not a git checkout")
    for name in ("models/active.json", "models/activations.jsonl", "models/some-model/comparison.json"):
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=PROJECT_ROOT, check=False)
        assert ignored.returncode == 0, f"{name} is not git-ignored"
    kept = subprocess.run(["git", "check-ignore", "-q", "models/starter/card.json"], cwd=PROJECT_ROOT, check=False)
    assert kept.returncode == 1


def test_image_models_are_judged_on_the_stored_image_files(two_models: tuple[Store, Registry]) -> None:
    """A ResNet or detector reads the held-out image itself; a face it cannot find counts as a wrong answer."""
    store, _ = two_models
    held = held_out_set(store)
    seen: list[tuple[int, ...]] = []

    class ImageModel:
        needs_landmarks = True
        needs_pixels = True
        whole_image_fallback = False
        card = ModelCard(id="image-model", kind="resnet", name="resnet50", classes=["happy", "surprise"])

        def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData]) -> list[FacePrediction]:
            seen.append(rgb.shape)
            if len(seen) == 1:
                return []  # no face found in the first image
            return [top_prediction(faces[0].bbox, self.card.classes, np.array([0.9, 0.1]))]

    predicted = _predict_all(ImageModel(), store, held)
    assert len(seen) == len(held.image_ids) and all(len(s) == 3 and s[0] > 100 for s in seen)  # real decoded photos
    assert predicted[0] == NO_FACE and set(predicted[1:]) == {"happy"}
