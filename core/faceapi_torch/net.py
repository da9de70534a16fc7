"""face-api's FaceExpressionNet in PyTorch, built from the shipped ONNX file's own weights.

The ONNX graph (models/faceapi/face_expression.onnx, verified by its sha256) was exported from this very module by
scripts/convert_faceapi.py, so its initializers carry the module's parameter names: loading them back gives the same
network, which the tests check against onnxruntime on real crops. Input: (n, 112, 112, 3) RGB float in 0..255
(face-api's mean-RGB normalisation is inside). No BatchNorm: fine-tuning on small batches is safe.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.faceapi.network import NETWORK_EMOTIONS, RESTORE_HINT
from core.landmarks.model_file import load_verified
from core.settings import Settings, get_settings

MEAN_RGB = (122.782, 117.001, 104.298)  # face-api's FaceFeatureExtractor
BLOCKS = ("dense0", "dense1", "dense2", "dense3")


def _same_pad(x: torch.Tensor, stride: int) -> torch.Tensor:
    """TF "same" padding of a 3x3 window: 1 on each side at stride 1; at stride 2 on an even size, 0 before and
    1 after (TF puts the odd pixel at the end)."""
    return F.pad(x, (1, 1, 1, 1)) if stride == 1 else F.pad(x, (0, 1, 0, 1))


class SeparableConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.depthwise = nn.Conv2d(c_in, c_in, 3, stride=stride, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(_same_pad(x, self.stride)))


class FirstConv(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=2, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(_same_pad(x, 2))


class DenseBlock4(nn.Module):
    """face-api's denseBlock4: four convolutions, each fed the sum of the earlier outputs."""

    def __init__(self, c_in: int, c_out: int, first: bool) -> None:
        super().__init__()
        self.conv0: nn.Module = FirstConv(c_in, c_out) if first else SeparableConv(c_in, c_out, 2)
        self.conv1 = SeparableConv(c_out, c_out, 1)
        self.conv2 = SeparableConv(c_out, c_out, 1)
        self.conv3 = SeparableConv(c_out, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = F.relu(self.conv0(x))
        out2 = self.conv1(out1)
        out3 = self.conv2(F.relu(out1 + out2))
        out4 = self.conv3(F.relu(out1 + out2 + out3))
        return F.relu(out1 + out2 + out3 + out4)


class FaceExpressionNet(nn.Module):
    """Input: (n, 112, 112, 3) RGB float in 0..255. Outputs: logits (n, classes), embedding (n, 256)."""

    def __init__(self, num_classes: int = len(NETWORK_EMOTIONS)) -> None:
        super().__init__()
        self.dense0 = DenseBlock4(3, 32, first=True)
        self.dense1 = DenseBlock4(32, 64, first=False)
        self.dense2 = DenseBlock4(64, 128, first=False)
        self.dense3 = DenseBlock4(128, 256, first=False)
        self.fc = nn.Linear(256, num_classes)
        self.register_buffer("mean", torch.tensor(MEAN_RGB, dtype=torch.float32).view(1, 1, 1, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean: torch.Tensor = self.mean  # type: ignore[assignment]
        x = ((x - mean) / 255.0).permute(0, 3, 1, 2)
        x = self.dense3(self.dense2(self.dense1(self.dense0(x))))
        embedding = x.mean(dim=(2, 3))  # avgPool 7x7 'valid' on the 7x7 map
        return self.fc(embedding), embedding


def onnx_initializers(payload: bytes) -> dict[str, np.ndarray]:
    """The float tensors stored in an ONNX model, by name (read with the `onnx` package)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_model_from_string(payload)
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def shipped_network(settings: Settings | None = None) -> FaceExpressionNet:
    """face-api's network with the shipped weights (the ONNX file, sha256-verified), 7 classes in
    NETWORK_EMOTIONS order, in eval mode."""
    settings = settings or get_settings()
    payload = load_verified(
        settings.faceapi_model_path, settings.faceapi_model_sha256, what="face-api expression network",
        restore=RESTORE_HINT,
    )  # fmt: skip
    weights = onnx_initializers(payload)
    net = FaceExpressionNet()
    state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in weights.items()}
    net.load_state_dict(state, strict=True)
    return net.eval()


def with_classes(net: FaceExpressionNet, classes: Sequence[str]) -> FaceExpressionNet:
    """The network with a head for `classes`: a class face-api knows keeps its trained row (so training starts
    from the network alone), a new one (contempt) starts at zero weights and a low bias (rarely chosen at first)."""
    old_w, old_b = net.fc.weight.detach().clone(), net.fc.bias.detach().clone()
    net.fc = nn.Linear(256, len(classes))
    with torch.no_grad():
        net.fc.weight.zero_()
        net.fc.bias.fill_(float(old_b.min()) - 2.0)
        for j, name in enumerate(classes):
            if name in NETWORK_EMOTIONS:
                i = NETWORK_EMOTIONS.index(name)
                net.fc.weight[j] = old_w[i]
                net.fc.bias[j] = old_b[i]
    return net
