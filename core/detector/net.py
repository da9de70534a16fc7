"""The detector network: a backbone and a grid head.

Two backbones. "grid": a small convolutional network trained from scratch, grid at stride 32 (about 25 s per epoch
of 943 images at 160 px on one CPU core). "efficientnet_lite0": EfficientNet-Lite0's ImageNet features, frozen, at
stride 16 (its stride-16 blocks joined with its upsampled stride-32 blocks): a 256 px input gives a 16 x 16 grid,
more cells than the 16 faces of a fer-yolo collage, and since the features never change they are computed once
per image and cached while the neck and head train (`core.detector.train`).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn import functional as F

STRIDE = 32  # the grid backbone's; `GridDetector.stride` is the one to use
STRIDES = {"grid": 32, "efficientnet_lite0": 16}
INPUT_MULTIPLE = 32  # every backbone downsamples to stride 32 inside
DEFAULT_WIDTHS: tuple[int, ...] = (16, 32, 64, 128, 192)
BACKBONES = tuple(STRIDES)
_S16_BLOCKS = 11  # EfficientNet-Lite0's blocks 0..10 end at stride 16 (112 channels), 11..15 at stride 32 (320)


def _conv(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.GroupNorm(min(8, cout // 4), cout),
        nn.LeakyReLU(0.1, inplace=True),
    )


class FrozenEfficientNet(nn.Module):
    """EfficientNet-Lite0's ImageNet features at stride 16: blocks 0..10 (112 channels) beside blocks 11..15 (320
    channels, upsampled x2), frozen. Takes the detector's (x - 0.5) / 0.25 input and rescales it to the
    (x - 127) / 128 the weights expect; its BatchNorm statistics stay ImageNet's (eval mode even while training)."""

    channels = 112 + 320

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        from core.training.efficientnet import EfficientNetClassifier

        self.body = EfficientNetClassifier(1, pretrained=pretrained).body
        for p in self.body.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> FrozenEfficientNet:
        super().train(mode)
        self.body.eval()
        return self

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        body = self.body
        with torch.no_grad():
            x = ((z * 0.25 + 0.5) * 255.0 - 127.0) / 128.0
            x = body._swish(body._bn0(body._conv_stem(x)))
            for block in body._blocks[:_S16_BLOCKS]:
                x = block(x)
            s16 = x
            for block in body._blocks[_S16_BLOCKS:]:
                x = block(x)
            return torch.cat((s16, F.interpolate(x, size=s16.shape[-2:], mode="nearest")), dim=1)


class GridDetector(nn.Module):
    """Image (B, 3, H, W) in 0..1 -> raw grid output (B, A, H/stride, W/stride, 5 + C)."""

    def __init__(
        self,
        num_classes: int,
        num_anchors: int,
        widths: tuple[int, ...] = DEFAULT_WIDTHS,
        backbone: str = "grid",
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        if len(widths) != 5:
            raise ValueError("the backbone needs five stage widths (one per stride-2 stage)")
        if backbone not in BACKBONES:
            raise ValueError(f"unknown detector backbone {backbone!r}; known: {', '.join(BACKBONES)}")
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.stride = STRIDES[backbone]
        self.frozen_features = backbone != "grid"  # backbone[0] never trains: its output can be cached
        layers: list[nn.Module]
        if self.frozen_features:
            features = FrozenEfficientNet(pretrained)
            layers = [features, _conv(features.channels, widths[-1], k=1)]
        else:
            layers = [_conv(3, widths[0], stride=2)]
            for cin, cout in itertools.pairwise(widths):
                layers += [_conv(cin, cout, stride=2), _conv(cout, cout)]
        # A wider 3x3 then 1x1 neck at the grid resolution mixes context from neighbouring cells.
        layers += [_conv(widths[-1], widths[-1]), _conv(widths[-1], widths[-1], k=1)]
        self.backbone = nn.Sequential(*layers)
        self.head = nn.Conv2d(widths[-1], num_anchors * (5 + num_classes), 1)
        # Start with low objectness everywhere: most cells hold no face, so the loss does not begin by
        # shouting "face" in every cell (the focal-loss prior trick).
        with torch.no_grad():
            assert self.head.bias is not None
            bias = self.head.bias.view(num_anchors, 5 + num_classes)
            bias.zero_()
            bias[:, 4] = -4.0

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen backbone's output (only for `frozen_features` networks): what `from_features` takes."""
        return self.backbone[0]((x - 0.5) / 0.25)

    def from_features(self, f: torch.Tensor) -> torch.Tensor:
        """Raw grid output from the frozen features: the part of the network that trains."""
        return self._as_grid(self.head(self.backbone[1:](f.float())))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.frozen_features:
            return self.from_features(self.features(x))
        return self._as_grid(self.head(self.backbone((x - 0.5) / 0.25)))

    def _as_grid(self, y: torch.Tensor) -> torch.Tensor:
        b, _, s_h, s_w = y.shape
        return y.view(b, self.num_anchors, 5 + self.num_classes, s_h, s_w).permute(0, 1, 3, 4, 2).contiguous()
