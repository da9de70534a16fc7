"""The EfficientNet-Lite0 backbone: its ImageNet weights verified by hash, the input scaling they expect (checked on
real photos), and one tiny training epoch on real face crops through the image model's loop, CLI and registry."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.errors import ModelFileCorrupt
from core.models.registry import Registry
from core.settings import Settings
from core.store import Store
from core.training import efficientnet
from core.training.resnet import ResNetConfig, ResNetModel, load_crops, save_resnet, train_resnet

CATS = range(281, 286)  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = (504, 967, 968)  # coffee mug, espresso, cup


def _imagenet_net() -> torch.nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(efficientnet.load_imagenet_state())
    return net.eval()


def _batch(rgb: np.ndarray, scaling: str) -> torch.Tensor:
    h, w = rgb.shape[:2]
    side = min(h, w)
    square = rgb[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
    x = cv2.resize(square, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32)
    if scaling == "tflite":
        x = (x - 127.0) / 128.0
    else:
        x = (x / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    return torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1)[None]


def test_the_weights_name_the_sample_photos_best_with_tflite_scaling() -> None:
    from skimage import data

    net = _imagenet_net()
    for rgb, right in ((data.chelsea(), CATS), (data.coffee(), COFFEE)):
        with torch.no_grad():
            tflite = torch.softmax(net(_batch(rgb, "tflite")), 1)[0]
            imagenet = torch.softmax(net(_batch(rgb, "imagenet")), 1)[0]
        assert int(tflite.argmax()) in right
        # (x - 127) / 128 is what the weights were trained with: the right classes get more of the mass.
        assert float(tflite[list(right)].sum()) > float(imagenet[list(right)].sum())


def test_the_classifier_rescales_what_the_shared_loop_feeds_it() -> None:
    """The image model's batches are ImageNet-normalised; inside, the network sees (x - 127) / 128."""
    from skimage import data

    from core.training.resnet import to_batch

    rgb = cv2.resize(data.chelsea(), (224, 224), interpolation=cv2.INTER_AREA)
    classifier = efficientnet.EfficientNetClassifier(3, pretrained=True).eval()
    net = _imagenet_net()
    net._fc = torch.nn.Identity()
    with torch.no_grad():
        through = classifier.fc[1](net(_batch(rgb, "tflite")))
        wrapped = classifier(to_batch([rgb], "cpu"))
    np.testing.assert_allclose(wrapped.numpy(), through.numpy(), atol=1e-3)


def test_a_tampered_weights_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = efficientnet.weights_path()
    assert source is not None
    copy = tmp_path / efficientnet.WEIGHTS_FILE
    shutil.copyfile(source, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 1
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(efficientnet, "weights_path", lambda: copy)
    with pytest.raises(ModelFileCorrupt, match="sha256"):
        efficientnet.load_imagenet_state()


def test_one_tiny_epoch_saves_and_loads(face_store: Store, settings: Settings) -> None:
    config = ResNetConfig(backbone="efficientnet_lite0", image_size=64, epochs=1, head_epochs=1, batch_size=3,
                          device="cpu", val_fraction=0.34)  # fmt: skip
    result = train_resnet(load_crops(face_store, size=64), settings, config)
    assert result.pretrained and "ImageNet" in result.weights_note
    card = save_resnet(Registry(settings.models_dir), result)
    assert (card.name, card.params["backbone"]) == ("efficientnet_lite0", "efficientnet_lite0")
    model = Registry(settings.models_dir).load(card.id)
    assert isinstance(model, ResNetModel) and model.session is not None  # onnxruntime predicts on CPU
    crops = load_crops(face_store, size=64).images
    proba = model.predict_crops(crops)
    assert proba.shape == (6, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    model.session = None  # the same network through torch gives the same probabilities
    np.testing.assert_allclose(model.predict_crops(crops), proba, atol=1e-4)


def test_cli_lists_and_trains_the_backbone(
    face_store: Store,
    app_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from core.cli import main

    assert main(["image", "backbones"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert "pretrained: yes" in lines["efficientnet_lite0"] and "Apache-2.0" in lines["efficientnet_lite0"]
    assert "random init" in lines["resnet50"] or "pretrained: yes" in lines["resnet50"]
    code = main(["image", "train", "--backbone", "efficientnet_lite0", "--epochs", "1", "--size", "64",
                 "--batch", "3", "--device", "cpu"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "ImageNet weights" in out and "6 face crops" in out and "saved model resnet-" in out
