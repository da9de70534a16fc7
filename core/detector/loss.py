"""The detector's loss: objectness over every cell, box regression and emotion classification on assigned cells."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from core.detector.boxes import GridSpec, cxcywh_to_xyxy


@dataclass(frozen=True)
class LossWeights:
    box: float = 2.0
    giou: float = 3.0
    obj: float = 1.0
    noobj: float = 0.5
    cls: float = 1.0


def _giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generalized IoU of matching rows of xyxy boxes (N, 4) x (N, 4) -> (N,)."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inter = (torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])).clamp(min=0).prod(-1)
    union = area_a + area_b - inter
    hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).clamp(min=0).prod(-1)
    return inter / union.clamp(min=1e-9) - (hull - union) / hull.clamp(min=1e-9)


def _positive_boxes(offsets: torch.Tensor, pos: torch.Tensor, spec: GridSpec) -> torch.Tensor:
    """xyxy boxes of the positive cells from offsets (B, A, S, S, 4) whose x/y are already 0..1 in the cell."""
    b, a, row, col = torch.nonzero(pos, as_tuple=True)
    anchors = torch.as_tensor(spec.anchors, dtype=offsets.dtype, device=offsets.device)
    o = offsets[b, a, row, col]
    cx = (o[:, 0] + col.to(o.dtype)) / spec.size
    cy = (o[:, 1] + row.to(o.dtype)) / spec.size
    w = anchors[a, 0] * torch.exp(o[:, 2].clamp(max=6.0))
    h = anchors[a, 1] * torch.exp(o[:, 3].clamp(max=6.0))
    return cxcywh_to_xyxy(torch.stack((cx, cy, w, h), dim=-1))


def detection_loss(
    raw: torch.Tensor,
    obj_t: torch.Tensor,
    off_t: torch.Tensor,
    cls_t: torch.Tensor,
    *,
    spec: GridSpec | None = None,
    weights: LossWeights = LossWeights(),
    class_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of a batch: raw (B, A, S, S, 5 + C); targets from `encode_targets` stacked over the batch.

    Sums are divided by the batch size so that the loss scale does not depend on how many cells are empty. Box
    centres use BCE on the in-cell offsets and sizes MSE on log scales; with `spec`, a GIoU term on the decoded
    boxes is added.
    """
    batch = raw.shape[0]
    pos = obj_t > 0.5
    obj_logit = raw[..., 4]
    obj_loss = F.binary_cross_entropy_with_logits(obj_logit, obj_t, reduction="none")
    obj_term = (weights.obj * obj_loss[pos].sum() + weights.noobj * obj_loss[~pos].sum()) / batch
    if pos.any():
        p = raw[pos]
        t = off_t[pos]
        xy_loss = F.binary_cross_entropy_with_logits(p[:, 0:2], t[:, 0:2], reduction="none").sum(-1)
        wh_loss = F.mse_loss(p[:, 2:4], t[:, 2:4], reduction="none").sum(-1)
        box_term = weights.box * (xy_loss + wh_loss).sum() / batch
        if spec is not None and weights.giou:
            # GIoU on the decoded boxes ties the offsets together and scales the error with the face's size.
            pred_off = torch.cat((torch.sigmoid(raw[..., 0:2]), raw[..., 2:4]), dim=-1)
            giou = _giou(_positive_boxes(pred_off, pos, spec), _positive_boxes(off_t, pos, spec))
            box_term = box_term + weights.giou * (1.0 - giou).sum() / batch
        cls_term = weights.cls * F.cross_entropy(p[:, 5:], cls_t[pos], weight=class_weights, reduction="sum") / batch
    else:
        box_term = raw.sum() * 0.0
        cls_term = raw.sum() * 0.0
    total = obj_term + box_term + cls_term
    parts = {"obj": float(obj_term.detach()), "box": float(box_term.detach()), "cls": float(cls_term.detach())}
    return total, parts
