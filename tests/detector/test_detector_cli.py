"""`python -m core detector train|evaluate` on a drawn YOLO folder, and its error for a bad label file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.cli import main
from core.models.registry import Registry
from core.settings import Settings


def test_cli_train_then_evaluate(synthetic_yolo: Path, app_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "detector",
            "train",
            "--yolo",
            str(synthetic_yolo),
            "--epochs",
            "2",
            "--size",
            "96",
            "--batch",
            "4",
            "--device",
            "cpu",
            "--backbone",
            "grid",
            "--force-activate",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    registry = Registry(app_env.models_dir)
    model_id = registry.active_id()
    assert model_id and model_id in out and "mAP@0.5" in out
    card = registry.card(model_id)
    assert card.kind == "detector" and card.data_sources == [str(synthetic_yolo)] and card.data_hash
    assert [h["epoch"] for h in card.metrics["history"]] == [1, 2]

    assert main(["detector", "evaluate", "--model", model_id, "--yolo", str(synthetic_yolo)]) == 0
    out = capsys.readouterr().out
    assert "4 images" in out and "AP angry" in out


def test_cli_names_the_bad_label_line(
    synthetic_yolo: Path, app_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "bad"
    shutil.copytree(synthetic_yolo, root)
    label = root / "valid" / "labels" / "img0.txt"
    label.write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 -0.3\n")
    assert main(["detector", "train", "--yolo", str(root), "--epochs", "1", "--size", "96"]) == 2
    err = capsys.readouterr().err
    assert f"{label}, line 2: h=-0.3 is outside 0..1" in err
    assert "Traceback" not in err
    assert Registry(app_env.models_dir).list() == []


def test_evaluate_refuses_a_non_detector(app_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detector", "evaluate", "--model", "nope", "--yolo", "/nonexistent"]) == 2
    assert "no model with id 'nope'" in capsys.readouterr().err
