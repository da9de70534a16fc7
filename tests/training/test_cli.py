"""`python -m core train`, `evaluate` and `models` against a real store and registry in a temporary root."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.imaging import encode_png
from core.models.registry import Registry
from core.records import FaceData
from core.settings import Settings
from core.store import Store
from tests.training.conftest import fill_store


@pytest.mark.slow
def test_train_evaluate_and_manage_models(
    app_env: Settings,
    variant_faces: list[tuple[bytes, FaceData, str]],
    face_variants: list[np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill_store(Store(app_env), variant_faces)
    args = ["train", "--models", "svm", "mlp", "--features", "blendshapes", "geometry", "--activate"]
    assert main(args) == 0
    out = capsys.readouterr().out
    # Nothing was active, so the best new model is better than none and --activate makes it active.
    assert "best by held-out macro-F1" in out and "becomes active" in out
    registry = Registry(app_env.models_dir)
    cards = registry.list()
    assert {c.name for c in cards} == {"svm", "mlp"} and registry.active_id() in {c.id for c in cards}

    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "happy_1.png").write_bytes(encode_png(face_variants[0]))
    (folder / "surprise_2.png").write_bytes(encode_png(face_variants[1]))
    (folder / "happy_3.png").write_bytes(b"garbage")
    preds = tmp_path / "preds.csv"
    assert main(["evaluate", str(folder), "--out", str(preds)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "macro-F1" in out and "confusion matrix" in out
    assert "1 unreadable file(s)" in out
    assert len(pd.read_csv(preds)) == 3

    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert all(c.id in listing for c in cards) and listing.count("*") == 1
    other = next(c.id for c in cards if c.id != registry.active_id())
    assert main(["models", "activate", other]) == 0 and registry.active_id() == other
    assert main(["models", "delete", other]) == 0 and len(registry.list()) == 1
    assert main(["models", "activate", "no-such-model"]) == 2
    assert "no model with id" in capsys.readouterr().err


def test_train_refuses_one_class_with_a_message(
    app_env: Settings, variant_faces: list[tuple[bytes, FaceData, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    fill_store(Store(app_env), [v for v in variant_faces if v[2] == "happy"])
    assert main(["train"]) == 2
    assert "at least two emotions" in capsys.readouterr().err
