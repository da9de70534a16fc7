"""The detector network: a small pretrained-free convolutional backbone with a grid head (stride 32).

Small enough to train on one CPU core (about 25 s per epoch of 943 images at 160 px), deep enough that a cell of
the grid (6 x 6 at the default 192 px) sees a whole portrait.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

STRIDE = 32
DEFAULT_WIDTHS: tuple[int, ...] = (16, 32, 64, 128, 192)


def _conv(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.GroupNorm(min(8, cout // 4), cout),
        nn.LeakyReLU(0.1, inplace=True),
    )


BACKBONES = ("grid", "efficientnet_lite0")


class FrozenEfficientNet(nn.Module):
    """EfficientNet-Lite0's ImageNet features (1280 channels at stride 32), frozen: only the neck and head train,
    so a few CPU epochs suffice. Takes the detector's (x - 0.5) / 0.25 input and rescales it to the (x - 127) / 128
    the weights expect; its BatchNorm statistics stay ImageNet's (eval mode even while the detector trains)."""

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        from core.training.efficientnet import FEATURES, EfficientNetClassifier

        self.body = EfficientNetClassifier(1, pretrained=pretrained).body
        self.channels = FEATURES
        for p in self.body.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> FrozenEfficientNet:
        super().train(mode)
        self.body.eval()
        return self

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        pixels = (z * 0.25 + 0.5) * 255.0
        with torch.no_grad():
            return self.body.extract_features((pixels - 127.0) / 128.0)


class GridDetector(nn.Module):
    """Image (B, 3, H, W) in 0..1 -> raw grid output (B, A, H/32, W/32, 5 + C)."""

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
        layers: list[nn.Module]
        if backbone == "efficientnet_lite0":
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(self.backbone((x - 0.5) / 0.25))
        b, _, s_h, s_w = y.shape
        return y.view(b, self.num_anchors, 5 + self.num_classes, s_h, s_w).permute(0, 1, 3, 4, 2).contiguous()
