"""The shipped starter model: a fresh clone recognises expressions before anything is trained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.features import FEATURE_VERSION
from core.inference import Recognizer
from core.landmarks.extractor import LandmarkExtractor
from core.registry import STARTER_ID, Registry, coverage_note
from core.schema import EMOTIONS
from core.settings import PROJECT_ROOT, Settings

STARTER = PROJECT_ROOT / "models" / STARTER_ID
pytestmark = pytest.mark.skipif(not (STARTER / "card.json").is_file(), reason="models/starter is not shipped")


def test_starter_card_names_its_data_cv_and_cross_dataset_figures() -> None:
    card = Registry(PROJECT_ROOT / "models").card(STARTER_ID)
    assert card.kind == "hybrid" and card.classes == list(EMOTIONS[:7])
    assert card.feature_version == FEATURE_VERSION and card.data_hash
    assert card.params["network_sha256"] == Settings(_env_file=None).faceapi_model_sha256  # type: ignore[call-arg]
    assert "research use only" in card.notes.lower() and len(card.data_sources) == 2
    # Contempt is in the vocabulary but not in what the starter can predict: the card says so.
    assert "contempt" not in card.classes and "contempt" in card.metrics["not_predicted"]
    assert "contempt" in card.notes
    note = coverage_note(card)  # what the Live and Batch test pages show under the model choice
    assert note is not None and "7 of the 8" in note and "contempt" in note and "face-api" in note
    assert 0.3 < card.metrics["cv_mean"] <= 1.0
    table = card.metrics["cross_dataset"]
    assert {(r["train"], r["test"]) for r in table} == {("faces-dev", "fer-yolo"), ("fer-yolo", "faces-dev")}
    assert len(table) == 6 and any("zero-shot" in r["model"] for r in table)
    assert any("previous starter" in r["model"] for r in table)
    assert (STARTER / card.artifact).stat().st_size < 5_000_000  # small enough to ship in git


def test_starter_sees_the_smile(astronaut_rgb: np.ndarray) -> None:
    model = Registry(PROJECT_ROOT / "models").load(STARTER_ID, expect_feature_version=FEATURE_VERSION)
    with LandmarkExtractor(mode="image") as extractor:
        [face] = Recognizer(model, extractor).predict(astronaut_rgb)
    assert face.emotion == "happy" and max(face.probabilities, key=face.probabilities.__getitem__) == "happy"
    assert abs(sum(face.probabilities.values()) - 1.0) < 1e-6


def test_a_separate_models_folder_starts_with_the_starter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MODELS_DIR elsewhere: the dashboard, the API and the CLI find the shipped starter there too (copied once,
    whole); STARTER_MODEL=false leaves the folder empty."""
    from core.api.service import load_active_model
    from core.cli import main
    from core.registry import install_starter
    from core.settings import get_settings

    elsewhere = Settings(_env_file=None, models_dir=tmp_path / "models", data_root=tmp_path / "data")  # type: ignore[call-arg]
    assert elsewhere.starter_model
    model = load_active_model(elsewhere)  # what the API loads at start
    assert model is not None and model.card.id == STARTER_ID
    registry = Registry(tmp_path / "models")
    assert registry.active_id() == STARTER_ID and [c.id for c in registry.list()] == [STARTER_ID]
    assert not install_starter(elsewhere)  # already there: nothing copied again
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]  # no temporary folder left

    off = tmp_path / "off"
    assert not install_starter(elsewhere.model_copy(update={"models_dir": off, "starter_model": False}))
    assert Registry(off).active_id() is None
    # The CLI, with MODELS_DIR pointing at a new folder.
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "cli-models"))
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.delenv("STARTER_MODEL", raising=False)
    get_settings.cache_clear()
    try:
        assert main(["models", "list"]) == 0
    finally:
        get_settings.cache_clear()
    assert Registry(tmp_path / "cli-models").active_id() == STARTER_ID
