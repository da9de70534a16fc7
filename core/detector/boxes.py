"""Box maths for the grid detector: conversions, IoU, anchor fitting, grid encoding/decoding and NMS.

Boxes are normalized to the image (0..1). The grid follows YOLOv2: a face belongs to the cell holding its centre and
to the anchor whose shape fits it best; a cell predicts sigmoid offsets inside the cell and log-scale factors of
the anchor's width and height.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

# Default anchors (w, h) fitted to face datasets: collage-sized faces, half-frame faces and full-frame portraits.
DEFAULT_ANCHORS: tuple[tuple[float, float], ...] = ((0.2, 0.22), (0.45, 0.5), (0.8, 0.9))


@dataclass(frozen=True)
class GridSpec:
    """The output layout: an S x S grid with one box per anchor per cell."""

    size: int  # cells per side
    anchors: tuple[tuple[float, float], ...] = DEFAULT_ANCHORS

    @property
    def num_anchors(self) -> int:
        return len(self.anchors)


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=-1)


def xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    x0, y0, x1, y1 = boxes.unbind(-1)
    return torch.stack(((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), dim=-1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of xyxy boxes: (N, 4) x (M, 4) -> (N, M)."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / union.clamp(min=1e-9)


def iou_numpy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes as numpy arrays (evaluation code works in numpy)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    return box_iou(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)).numpy()


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: indices of the kept boxes, highest score first."""
    order = torch.argsort(scores, descending=True)
    keep: list[int] = []
    while order.numel() > 0:
        best = int(order[0])
        keep.append(best)
        if order.numel() == 1:
            break
        rest = order[1:]
        ious = box_iou(boxes[best : best + 1], boxes[rest])[0]
        order = rest[ious <= iou_threshold]
    return torch.as_tensor(keep, dtype=torch.long)


def _shape_iou(wh: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """IoU of boxes and anchors aligned at a common centre: (N, 2) x (K, 2) -> (N, K)."""
    inter = np.minimum(wh[:, None, 0], anchors[None, :, 0]) * np.minimum(wh[:, None, 1], anchors[None, :, 1])
    union = wh[:, None, 0] * wh[:, None, 1] + anchors[None, :, 0] * anchors[None, :, 1] - inter
    return np.asarray(inter / np.maximum(union, 1e-9))


def fit_anchors(wh: np.ndarray, k: int = 3, iterations: int = 30, seed: int = 0) -> tuple[tuple[float, float], ...]:
    """k-means on box shapes with 1 - IoU as the distance (YOLOv2); anchors sorted by area.

    Falls back to the defaults when there are fewer distinct shapes than anchors.
    """
    wh = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    if len(np.unique(np.round(wh, 3), axis=0)) < k:
        return DEFAULT_ANCHORS[:k] if k <= len(DEFAULT_ANCHORS) else DEFAULT_ANCHORS
    rng = np.random.default_rng(seed)
    centres = wh[rng.choice(len(wh), size=k, replace=False)]
    for _ in range(iterations):
        assign = np.argmax(_shape_iou(wh, centres), axis=1)
        new = np.array([np.median(wh[assign == j], axis=0) if np.any(assign == j) else centres[j] for j in range(k)])
        if np.allclose(new, centres):
            break
        centres = new
    centres = centres[np.argsort(centres.prod(axis=1))]
    return tuple((round(float(w), 4), round(float(h), 4)) for w, h in centres)


def encode_targets(
    boxes: np.ndarray, classes: np.ndarray, spec: GridSpec
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grid targets of one image.

    `boxes` is (N, 4) normalized cx, cy, w, h and `classes` (N,) class indices. Returns
    obj (A, S, S) in {0, 1}, offsets (A, S, S, 4) = (x in cell, y in cell, log w/anchor_w, log h/anchor_h),
    and cls (A, S, S) long (-1 where no face). When two faces want the same cell and anchor, the second takes the
    next-best free anchor of that cell; a face with no free anchor left is dropped (rare with 3 anchors).
    """
    s, a = spec.size, spec.num_anchors
    obj = torch.zeros((a, s, s))
    offsets = torch.zeros((a, s, s, 4))
    cls = torch.full((a, s, s), -1, dtype=torch.long)
    if len(boxes) == 0:
        return obj, offsets, cls
    anchors = np.asarray(spec.anchors, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ranking = np.argsort(-_shape_iou(boxes[:, 2:4], anchors), axis=1)
    # Larger faces first, so that a tiny face never steals the anchor a large face needs.
    for i in np.argsort(-(boxes[:, 2] * boxes[:, 3])):
        cx, cy, w, h = boxes[i]
        col, row = min(int(cx * s), s - 1), min(int(cy * s), s - 1)
        for k in ranking[i]:
            if obj[k, row, col] == 0:
                obj[k, row, col] = 1.0
                offsets[k, row, col] = torch.tensor(
                    [cx * s - col, cy * s - row, np.log(w / anchors[k, 0]), np.log(h / anchors[k, 1])]
                )
                cls[k, row, col] = int(classes[i])
                break
    return obj, offsets, cls


def offsets_to_boxes(offsets: torch.Tensor, spec: GridSpec) -> torch.Tensor:
    """Cell offsets (..., A, S, S, 4) with x/y already in 0..1 of the cell -> normalized cx, cy, w, h boxes."""
    s = spec.size
    device = offsets.device
    grid = torch.arange(s, device=device, dtype=offsets.dtype)
    anchors = torch.as_tensor(spec.anchors, device=device, dtype=offsets.dtype)
    cx = (offsets[..., 0] + grid.view(1, 1, s)) / s
    cy = (offsets[..., 1] + grid.view(1, s, 1)) / s
    w = anchors[:, 0].view(-1, 1, 1) * torch.exp(offsets[..., 2].clamp(max=6.0))
    h = anchors[:, 1].view(-1, 1, 1) * torch.exp(offsets[..., 3].clamp(max=6.0))
    return torch.stack((cx, cy, w, h), dim=-1)


@dataclass
class Detection:
    """One detected face: normalized xyxy box, face score, emotion index and class probabilities."""

    box: tuple[float, float, float, float]
    score: float
    class_index: int
    probabilities: np.ndarray


def decode_predictions(
    raw: torch.Tensor,
    spec: GridSpec,
    *,
    conf_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    max_detections: int = 100,
) -> list[list[Detection]]:
    """Network output (B, A, S, S, 5 + C) -> detections per image after thresholding and class-agnostic NMS.

    The face score is the objectness; each face carries one emotion (the argmax of its class probabilities), and
    NMS is class-agnostic because one face has one expression.
    """
    raw = raw.detach().float()
    xy = torch.sigmoid(raw[..., 0:2])
    boxes = cxcywh_to_xyxy(offsets_to_boxes(torch.cat((xy, raw[..., 2:4]), dim=-1), spec)).clamp(0.0, 1.0)
    obj = torch.sigmoid(raw[..., 4])
    probs = torch.softmax(raw[..., 5:], dim=-1)
    out: list[list[Detection]] = []
    for b in range(raw.shape[0]):
        flat_boxes = boxes[b].reshape(-1, 4)
        flat_obj = obj[b].reshape(-1)
        flat_probs = probs[b].reshape(flat_obj.shape[0], -1)
        mask = flat_obj >= conf_threshold
        idx = torch.nonzero(mask).flatten()
        dets: list[Detection] = []
        if idx.numel():
            keep = idx[nms(flat_boxes[idx], flat_obj[idx], iou_threshold)][:max_detections]
            for i in keep.tolist():
                p = flat_probs[i].cpu().numpy()
                dets.append(
                    Detection(
                        box=tuple(float(v) for v in flat_boxes[i].tolist()),  # type: ignore[arg-type]
                        score=float(flat_obj[i]),
                        class_index=int(np.argmax(p)),
                        probabilities=p,
                    )
                )
        out.append(dets)
    return out


def boxes_from_yolo(rows: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
    """(N, 4) float32 array of cx, cy, w, h rows (an empty input gives shape (0, 4))."""
    return np.asarray(rows, dtype=np.float32).reshape(-1, 4)
