"""The shipped starter model: a fresh clone recognises expressions before anything is trained."""

from __future__ import annotations

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
