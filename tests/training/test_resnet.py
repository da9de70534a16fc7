"""The ResNet-50 image model: one tiny epoch on CPU from scratch on real face crops, registry round trip, refusals."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from core.errors import TrainingDataError
from core.inference import Recognizer
from core.landmarks.extractor import LandmarkExtractor
from core.models.registry import Registry
from core.settings import Settings
from core.store import Store
from core.training.resnet import (
    ResNetConfig,
    ResNetModel,
    find_imagenet_weights,
    load_crops,
    save_resnet,
    train_resnet,
    weights_status,
)

TINY = ResNetConfig(image_size=64, epochs=1, batch_size=4, augment=True, device="cpu", val_fraction=0.34)


def test_weights_absent_is_said_plainly(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # an empty hub cache
    s = settings.model_copy(update={"resnet_weights_path": tmp_path / "missing.pth"})
    assert find_imagenet_weights(s) is None
    message = weights_status(s)
    assert "absent" in message and "from scratch" in message and "missing.pth" in message


def test_resnet_one_tiny_epoch_from_scratch(
    face_store: Store,
    settings: Settings,
    tmp_path: Path,
    face_variants: list[np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    data = load_crops(face_store, size=64)
    assert data.classes == ["happy", "sad"]
    assert len(data.images) == 6 and data.images[0].shape == (64, 64, 3)
    assert data.groups is not None
    epochs = []
    result = train_resnet(data, settings, TINY, progress=lambda e, total: epochs.append((e, total)))
    assert not result.pretrained and "from scratch" in result.weights_note
    assert [(e.epoch, total) for e, total in epochs] == [(1, 1)]
    assert np.isfinite(epochs[0][0].train_loss)
    # Validation holds whole persons out.
    assert result.num_train + result.num_val == 6 and result.num_val >= 2
    assert "persons" in result.split_note

    registry = Registry(settings.models_dir)
    card = save_resnet(registry, result, data_sources=["test"])
    assert card.kind == "resnet" and card.params["pretrained"] is False
    model = registry.load(card.id, expect_classes=["happy", "sad"])
    assert isinstance(model, ResNetModel) and model.needs_landmarks
    with LandmarkExtractor(settings) as extractor:
        preds = Recognizer(model, extractor).predict(face_variants[0])
    assert len(preds) == 1
    assert set(preds[0].probabilities) == {"happy", "sad"}
    assert sum(preds[0].probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    # The loaded model reproduces the trained network's output.
    direct = result.net.eval()(torch.zeros(1, 3, 64, 64)).softmax(1)
    loaded = model.net(torch.zeros(1, 3, 64, 64)).softmax(1)
    torch.testing.assert_close(direct, loaded)


def test_resnet_cancel_before_first_batch(face_store: Store, settings: Settings) -> None:
    cancel = threading.Event()
    cancel.set()
    result = train_resnet(load_crops(face_store, size=64), settings, TINY, cancel=cancel)
    assert result.cancelled and result.history == []


def test_resnet_refuses_a_single_class(face_store: Store, settings: Settings) -> None:
    from core.store.repository import Filters

    data = load_crops(face_store, Filters(emotions=["happy"]), size=64)
    with pytest.raises(TrainingDataError, match="at least two emotions"):
        train_resnet(data, settings, TINY)


def test_cli_resnet_train(face_store: Store, app_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli import main

    code = main(
        [
            "resnet",
            "train",
            "--epochs",
            "1",
            "--size",
            "64",
            "--batch",
            "2",
            "--no-imagenet",
            "--device",
            "cpu",
            "--force-activate",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "from scratch" in out and "6 face crops" in out
    registry = Registry(app_env.models_dir)
    active = registry.active_id()
    assert active is not None and active in out
    assert registry.card(active).kind == "resnet"
    assert main(["resnet", "train", "--size", "16", "--no-imagenet"]) == 2
    assert "at least 32 px" in capsys.readouterr().err


def test_local_weights_train_the_head_first(
    face_store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A weights file in the hub cache is found and loaded; the first epoch leaves the backbone untouched."""
    import torch
    from torchvision.models import resnet50

    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    torch.manual_seed(1)
    reference = resnet50(weights=None).state_dict()
    torch.save(reference, hub / "checkpoints" / "resnet50-local.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    assert "found" in weights_status(settings)

    data = load_crops(face_store, size=64)
    seen: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    config = ResNetConfig(image_size=64, epochs=2, head_epochs=1, batch_size=4, device="cpu", patience=0)

    def snapshot(stats, total) -> None:  # type: ignore[no-untyped-def]
        state = net_holder[0].state_dict()
        seen.append((stats.phase, state["layer1.0.conv1.weight"].clone(), state["fc.1.weight"].clone()))

    net_holder: list[torch.nn.Module] = []
    import core.training.image_networks as image_networks

    build = image_networks.build_resnet50

    def keep(num_classes: int, weights_file: Path | None = None) -> torch.nn.Module:
        net = build(num_classes, weights_file)
        net_holder.append(net)
        return net

    monkeypatch.setattr(image_networks, "build_resnet50", keep)
    result = train_resnet(data, settings, config, progress=snapshot)
    assert result.pretrained and "found" in result.weights_note
    assert [phase for phase, _, _ in seen] == ["head", "full"]
    torch.testing.assert_close(seen[0][1], reference["layer1.0.conv1.weight"])  # frozen in the head epoch
    assert not torch.equal(seen[1][1], reference["layer1.0.conv1.weight"])  # fine-tuned afterwards
