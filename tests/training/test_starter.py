"""The shipped starter model: a fresh clone recognises expressions before anything is trained."""

from __future__ import annotations

import numpy as np
import pytest

from core.features import FEATURE_VERSION
from core.inference import Recognizer
from core.landmarks.extractor import LandmarkExtractor
from core.registry import STARTER_ID, Registry
from core.schema import EMOTIONS
from core.settings import PROJECT_ROOT

STARTER = PROJECT_ROOT / "models" / STARTER_ID
pytestmark = pytest.mark.skipif(not (STARTER / "card.json").is_file(), reason="models/starter is not shipped")


def test_starter_card_names_its_data_and_held_out_figures() -> None:
    card = Registry(PROJECT_ROOT / "models").card(STARTER_ID)
    assert card.kind == "landmark" and card.classes == list(EMOTIONS[:7])
    assert card.feature_version == FEATURE_VERSION
    assert "research use only" in card.notes.lower() and len(card.data_sources) == 2
    held_out = card.metrics["held_out"]
    assert set(held_out) == {"fer_yolo_valid", "faces_dev_heldout_persons"}
    assert 0.3 < held_out["fer_yolo_valid"]["macro_f1"] <= 1.0
    assert (STARTER / card.artifact).stat().st_size < 5_000_000  # small enough to ship in git


def test_starter_sees_the_smile(astronaut_rgb: np.ndarray) -> None:
    model = Registry(PROJECT_ROOT / "models").load(STARTER_ID, expect_feature_version=FEATURE_VERSION)
    with LandmarkExtractor(mode="image") as extractor:
        [face] = Recognizer(model, extractor).predict(astronaut_rgb)
    assert face.emotion == "happy" and face.confidence > 0.5
    assert abs(sum(face.probabilities.values()) - 1.0) < 1e-6
