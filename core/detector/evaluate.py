"""Detection metrics: mAP@0.5 with per-class AP, face recall, and emotion accuracy on matched faces.

Works on plain arrays so that any pipeline (the detector, or MediaPipe plus a classifier) is scored the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.detector.boxes import iou_numpy


@dataclass
class ImagePredictions:
    boxes: np.ndarray  # (N, 4) normalized xyxy
    scores: np.ndarray  # (N,) face score
    classes: np.ndarray  # (N,) predicted class index


@dataclass
class ImageTruth:
    boxes: np.ndarray  # (M, 4) normalized xyxy
    classes: np.ndarray  # (M,) class index


@dataclass
class DetectionMetrics:
    map50: float
    per_class_ap: dict[str, float]
    face_recall: float
    face_precision: float
    emotion_accuracy: float  # on faces matched by a box at IoU >= the threshold
    matched: int
    num_faces: int
    num_predictions: int
    confusion: list[list[int]] = field(default_factory=list)  # truth rows x predicted columns, matched faces only

    def as_dict(self) -> dict[str, object]:
        return {
            "map50": self.map50,
            "per_class_ap": self.per_class_ap,
            "face_recall": self.face_recall,
            "face_precision": self.face_precision,
            "emotion_accuracy": self.emotion_accuracy,
            "matched": self.matched,
            "num_faces": self.num_faces,
            "num_predictions": self.num_predictions,
            "confusion": self.confusion,
        }


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the precision envelope (all-point interpolation, as VOC 2010+ and COCO per threshold)."""
    r = np.concatenate(([0.0], recall, [1.0]))
    p = np.concatenate(([0.0], precision, [0.0]))
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def _greedy_match(pred: ImagePredictions, truth: ImageTruth, iou_threshold: float) -> list[tuple[int, int]]:
    """Pairs (prediction, truth), highest score first, each truth used once (class-agnostic)."""
    ious = iou_numpy(pred.boxes, truth.boxes)
    used: set[int] = set()
    pairs = []
    for p in np.argsort(-pred.scores):
        if ious.shape[1] == 0:
            break
        candidates = [(ious[p, t], t) for t in range(ious.shape[1]) if t not in used and ious[p, t] >= iou_threshold]
        if candidates:
            _, t = max(candidates)
            used.add(t)
            pairs.append((int(p), int(t)))
    return pairs


def evaluate_detections(
    predictions: Sequence[ImagePredictions],
    truths: Sequence[ImageTruth],
    classes: Sequence[str],
    *,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.25,
) -> DetectionMetrics:
    """Score predictions against the truth.

    AP uses every prediction (rank by score); recall, precision and emotion accuracy use those at or above
    `score_threshold`, matched to faces class-agnostically, so a found face with the wrong emotion counts as
    found. Classes without any true face get no AP and stay out of the mean.
    """
    if len(predictions) != len(truths):
        raise ValueError("one prediction set per image is needed")
    num_classes = len(classes)
    # ---- mAP: per class, rank detections and mark each true positive once ----
    per_class: dict[str, float] = {}
    for c in range(num_classes):
        scores: list[float] = []
        hits: list[int] = []
        total = 0
        for pred, truth in zip(predictions, truths, strict=True):
            t_mask = truth.classes == c
            total += int(t_mask.sum())
            p_mask = pred.classes == c
            if not p_mask.any():
                continue
            p_boxes, p_scores = pred.boxes[p_mask], pred.scores[p_mask]
            t_boxes = truth.boxes[t_mask]
            ious = iou_numpy(p_boxes, t_boxes)
            used: set[int] = set()
            for p in np.argsort(-p_scores):
                scores.append(float(p_scores[p]))
                hit = 0
                if ious.shape[1]:
                    t = int(np.argmax(ious[p]))
                    if ious[p, t] >= iou_threshold and t not in used:
                        used.add(t)
                        hit = 1
                hits.append(hit)
        if total == 0:
            continue
        order = np.argsort(-np.asarray(scores)) if scores else np.array([], dtype=int)
        tp = np.cumsum(np.asarray(hits, dtype=np.float64)[order]) if scores else np.array([])
        fp = np.cumsum(1.0 - np.asarray(hits, dtype=np.float64)[order]) if scores else np.array([])
        recall = tp / total if scores else np.array([])
        precision = tp / np.maximum(tp + fp, 1e-9) if scores else np.array([])
        per_class[str(classes[c])] = average_precision(recall, precision) if scores else 0.0
    map50 = float(np.mean(list(per_class.values()))) if per_class else 0.0
    # ---- faces: class-agnostic matching at the operating threshold ----
    matched = correct = num_faces = num_preds = 0
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for pred, truth in zip(predictions, truths, strict=True):
        keep = pred.scores >= score_threshold
        kept = ImagePredictions(pred.boxes[keep], pred.scores[keep], pred.classes[keep])
        num_faces += len(truth.boxes)
        num_preds += len(kept.boxes)
        for p, t in _greedy_match(kept, truth, iou_threshold):
            matched += 1
            correct += int(kept.classes[p] == truth.classes[t])
            confusion[int(truth.classes[t]), int(kept.classes[p])] += 1
    return DetectionMetrics(
        map50=map50,
        per_class_ap=per_class,
        face_recall=matched / num_faces if num_faces else 0.0,
        face_precision=matched / num_preds if num_preds else 0.0,
        emotion_accuracy=correct / matched if matched else 0.0,
        matched=matched,
        num_faces=num_faces,
        num_predictions=num_preds,
        confusion=confusion.tolist(),
    )


def truth_from_cxcywh(boxes: np.ndarray, classes: np.ndarray) -> ImageTruth:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    xyxy = np.stack((b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2), 1)
    return ImageTruth(np.clip(xyxy, 0.0, 1.0), np.asarray(classes, dtype=np.int64))
