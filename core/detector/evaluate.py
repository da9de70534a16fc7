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


def match_faces(pred: ImagePredictions, truth: ImageTruth, iou_threshold: float) -> list[tuple[int, int]]:
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
    per_class: dict[str, float] = {}
    for c, name in enumerate(classes):
        ap = _class_ap(predictions, truths, c, iou_threshold)
        if ap is not None:
            per_class[str(name)] = ap
    map50 = float(np.mean(list(per_class.values()))) if per_class else 0.0
    # ---- faces: class-agnostic matching at the operating threshold ----
    matched = correct = num_faces = num_preds = 0
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for pred, truth in zip(predictions, truths, strict=True):
        keep = pred.scores >= score_threshold
        kept = ImagePredictions(pred.boxes[keep], pred.scores[keep], pred.classes[keep])
        num_faces += len(truth.boxes)
        num_preds += len(kept.boxes)
        for p, t in match_faces(kept, truth, iou_threshold):
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


def _class_ap(
    predictions: Sequence[ImagePredictions], truths: Sequence[ImageTruth], c: int, iou_threshold: float
) -> float | None:
    """AP of class `c`: its detections ranked by score, each true face of the class hit once; None without any."""
    scores: list[float] = []
    hits: list[int] = []
    total = 0
    for pred, truth in zip(predictions, truths, strict=True):
        t_mask = truth.classes == c
        total += int(t_mask.sum())
        p_mask = pred.classes == c
        if not p_mask.any():
            continue
        p_scores = pred.scores[p_mask]
        ious = iou_numpy(pred.boxes[p_mask], truth.boxes[t_mask])
        used: set[int] = set()
        for p in np.argsort(-p_scores):
            scores.append(float(p_scores[p]))
            t = int(np.argmax(ious[p])) if ious.shape[1] else -1
            hit = t >= 0 and ious[p, t] >= iou_threshold and t not in used
            if hit:
                used.add(t)
            hits.append(int(hit))
    if total == 0:
        return None
    if not scores:
        return 0.0
    ranked = np.asarray(hits, dtype=np.float64)[np.argsort(-np.asarray(scores), kind="stable")]
    tp, fp = np.cumsum(ranked), np.cumsum(1.0 - ranked)
    return average_precision(tp / total, tp / np.maximum(tp + fp, 1e-9))


def truth_from_cxcywh(boxes: np.ndarray, classes: np.ndarray) -> ImageTruth:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    xyxy = np.stack((b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2), 1)
    return ImageTruth(np.clip(xyxy, 0.0, 1.0), np.asarray(classes, dtype=np.int64))
