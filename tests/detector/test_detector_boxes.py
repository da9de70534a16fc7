"""Box encoding/decoding, NMS, anchors, and the mAP maths of the grid detector."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.detector.boxes import (
    GridSpec,
    box_iou,
    cxcywh_to_xyxy,
    decode_predictions,
    encode_targets,
    fit_anchors,
    nms,
    offsets_to_boxes,
)
from core.detector.evaluate import ImagePredictions, ImageTruth, average_precision, evaluate_detections


def test_encode_decode_round_trip() -> None:
    spec = GridSpec(8, ((0.2, 0.2), (0.5, 0.5), (0.9, 0.9)))
    boxes = np.array([[0.13, 0.21, 0.18, 0.25], [0.6, 0.55, 0.5, 0.45], [0.5, 0.5, 0.95, 0.9]], dtype=np.float32)
    classes = np.array([2, 0, 1])
    obj, off, cls = encode_targets(boxes, classes, spec)
    assert int(obj.sum()) == 3
    decoded = offsets_to_boxes(off, spec)[obj > 0]
    found = {int(c): b for c, b in zip(cls[obj > 0].tolist(), decoded.numpy(), strict=True)}
    for box, c in zip(boxes, classes, strict=True):
        np.testing.assert_allclose(found[int(c)], box, atol=1e-5)


def test_raw_predictions_decode_to_the_encoded_boxes() -> None:
    """Build the raw output a perfect network would give and check that decoding returns the boxes and classes."""
    spec = GridSpec(4, ((0.25, 0.25), (0.7, 0.7)))
    boxes = np.array([[0.3, 0.3, 0.2, 0.3], [0.8, 0.7, 0.3, 0.25]], dtype=np.float32)
    obj, off, cls = encode_targets(boxes, np.array([1, 0]), spec)
    xy = off[..., :2].clamp(1e-4, 1 - 1e-4)
    raw = torch.zeros((1, 2, 4, 4, 7))
    raw[0, ..., 0:2] = torch.log(xy / (1 - xy))
    raw[0, ..., 2:4] = off[..., 2:4]
    raw[0, ..., 4] = torch.where(obj > 0, 8.0, -8.0)
    raw[0, ..., 5:][cls >= 0] = torch.nn.functional.one_hot(cls[cls >= 0], 2).float() * 10
    dets = decode_predictions(raw, spec, conf_threshold=0.5)[0]
    assert len(dets) == 2
    truth = cxcywh_to_xyxy(torch.as_tensor(boxes))
    for det in dets:
        ious = box_iou(torch.tensor([det.box]), truth)[0]
        j = int(torch.argmax(ious))
        assert float(ious[j]) > 0.999
        assert det.class_index == [1, 0][j]


def test_two_faces_in_one_cell_take_different_anchors() -> None:
    spec = GridSpec(2, ((0.2, 0.2), (0.6, 0.6)))
    obj, _, cls = encode_targets(np.array([[0.2, 0.2, 0.2, 0.2], [0.25, 0.25, 0.22, 0.22]]), np.array([0, 1]), spec)
    assert int(obj.sum()) == 2
    assert sorted(cls[:, 0, 0].tolist()) == [0, 1]


def test_nms_keeps_the_best_of_each_overlapping_group() -> None:
    boxes = torch.tensor(
        [
            [0.0, 0.0, 0.5, 0.5],
            [0.02, 0.01, 0.52, 0.5],  # overlaps box 0 (IoU ~0.9), lower score
            [0.6, 0.6, 0.9, 0.9],
            [0.61, 0.6, 0.9, 0.92],  # overlaps box 2, higher score: it wins
            [0.0, 0.6, 0.3, 0.9],  # alone
        ]
    )
    scores = torch.tensor([0.9, 0.8, 0.5, 0.7, 0.3])
    assert nms(boxes, scores, 0.5).tolist() == [0, 3, 4]
    # A looser threshold keeps overlapping boxes apart.
    assert sorted(nms(boxes, scores, 0.95).tolist()) == [0, 1, 2, 3, 4]
    assert nms(boxes[:0], scores[:0], 0.5).tolist() == []


def test_fit_anchors_finds_the_two_face_sizes() -> None:
    rng = np.random.default_rng(0)
    small = rng.normal(0.2, 0.01, (50, 2))
    large = rng.normal(0.8, 0.02, (50, 2))
    anchors = fit_anchors(np.vstack([small, large]), k=2)
    assert anchors[0][0] == pytest.approx(0.2, abs=0.03)
    assert anchors[1][0] == pytest.approx(0.8, abs=0.03)


def test_average_precision_and_metrics() -> None:
    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)
    truth = [ImageTruth(np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]), np.array([0, 1]))]
    pred = [
        ImagePredictions(
            np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0], [0.0, 0.5, 0.4, 1.0]]),
            np.array([0.9, 0.8, 0.6]),
            np.array([0, 0, 1]),  # the second face is found but its emotion is wrong; a false face at 0.6
        )
    ]
    m = evaluate_detections(pred, truth, ["angry", "happy"])
    assert m.face_recall == 1.0
    assert m.emotion_accuracy == 0.5
    assert m.face_precision == pytest.approx(2 / 3)
    assert m.per_class_ap["angry"] == 1.0
    assert m.per_class_ap["happy"] == 0.0
    assert m.map50 == 0.5
    assert m.confusion == [[1, 0], [1, 0]]
