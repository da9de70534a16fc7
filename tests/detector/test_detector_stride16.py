"""The stride-16 grid of the pretrained detector: a 4x4 collage's 16 faces each get a cell, decode back to their boxes
and count as found under the comparison's IoU rule; the cached frozen features predict what the image does."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from core.detector.boxes import GridSpec, decode_predictions, encode_targets
from core.detector.compare import COMPARE_IOU, compare_pipelines
from core.detector.data import DetectionSample, flipped, samples_from_yolo, yolo_class_map
from core.detector.evaluate import ImagePredictions, evaluate_detections, truth_from_cxcywh
from core.detector.net import GridDetector
from core.detector.train import InputSet, cache_features, predict_samples
from core.inference import FacePrediction, Recognizer
from core.models.registry import ModelCard
from core.records import FaceData
from core.schema import EMOTIONS
from core.yolo import read_yolo_dataset

ANCHORS = ((0.2, 0.22), (0.45, 0.5), (0.8, 0.9))


def _collage(jitter: float = 0.03, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """16 faces of a 4x4 collage as fer-yolo draws them (cx, cy, w, h), centres a little off the tile centres."""
    rng = np.random.default_rng(seed)
    centres = [((i + 0.5) / 4, (j + 0.5) / 4) for j in range(4) for i in range(4)]
    boxes = np.array([(cx, cy, 0.19, 0.21) for cx, cy in centres], dtype=np.float32)
    boxes[:, :2] += rng.uniform(-jitter, jitter, size=(16, 2)).astype(np.float32)
    return boxes, np.arange(16) % 7


def _perfect_raw(boxes: np.ndarray, classes: np.ndarray, spec: GridSpec, num_classes: int) -> torch.Tensor:
    """The raw output a perfect network gives: the encoded offsets as logits, certain objectness and class."""
    obj, off, cls = encode_targets(boxes, classes, spec)
    xy = off[..., :2].clamp(1e-4, 1 - 1e-4)
    raw = torch.zeros((1, spec.num_anchors, spec.size, spec.size, 5 + num_classes))
    raw[0, ..., 0:2] = torch.log(xy / (1 - xy))
    raw[0, ..., 2:4] = off[..., 2:4]
    raw[0, ..., 4] = torch.where(obj > 0, 8.0, -8.0)
    raw[0, ..., 5:][cls >= 0] = torch.nn.functional.one_hot(cls[cls >= 0], num_classes).float() * 10
    return raw


def test_sixteen_collage_faces_decode_to_sixteen_found_faces_on_the_stride_16_grid() -> None:
    boxes, classes = _collage()
    spec = GridSpec(256 // 16, ANCHORS)
    obj, _, _ = encode_targets(boxes, classes, spec)
    assert int(obj.sum()) == 16  # every face has its own cell: none dropped
    assert int(obj.sum(dim=0).max()) == 1  # and no two share one
    dets = decode_predictions(_perfect_raw(boxes, classes, spec, 7), spec, conf_threshold=0.25)[0]
    assert len(dets) == 16  # NMS (IoU 0.45) keeps neighbouring faces apart
    pred = ImagePredictions(
        np.array([d.box for d in dets]), np.array([d.score for d in dets]), np.array([d.class_index for d in dets])
    )
    m = evaluate_detections([pred], [truth_from_cxcywh(boxes, classes)], [str(c) for c in range(7)],
                            iou_threshold=COMPARE_IOU)  # fmt: skip
    assert m.face_recall == 1.0 and m.emotion_accuracy == 1.0 and m.face_precision == 1.0


def test_a_face_whose_centre_sits_on_a_cell_border_decodes_inside_the_image() -> None:
    spec = GridSpec(16, ANCHORS)
    boxes = np.array([[0.5, 0.5, 0.3, 0.3], [1.0, 1.0, 0.1, 0.1]], dtype=np.float32)  # the last cell's far edge
    [dets] = decode_predictions(_perfect_raw(boxes, np.array([0, 1]), spec, 2), spec, conf_threshold=0.5)
    assert len(dets) == 2
    got = sorted(d.box for d in dets)
    np.testing.assert_allclose(got[0], (0.35, 0.35, 0.65, 0.65), atol=1e-3)
    np.testing.assert_allclose(got[1], (0.95, 0.95, 1.0, 1.0), atol=1e-3)  # clamped to the image


def test_the_pretrained_backbone_grid_is_stride_16_and_its_cached_features_predict_as_the_images_do(
    synthetic_yolo: Path,
) -> None:
    ds = read_yolo_dataset(synthetic_yolo)
    samples = samples_from_yolo(ds.splits["train"], yolo_class_map(ds.emotions, ds.emotions), 64)[:3]
    torch.manual_seed(0)
    net = GridDetector(len(ds.emotions), 3, (8, 8, 8, 8, 16), "efficientnet_lite0", pretrained=False).eval()
    assert net(torch.rand(1, 3, 64, 64)).shape == (1, 3, 4, 4, 5 + len(ds.emotions))
    spec = GridSpec(64 // net.stride, ANCHORS)
    cached = cache_features(net, samples, device="cpu", flip=True)
    assert cached.features is not None and len(cached.features) == 2 * len(samples)
    assert cached.features[0].dtype == torch.float16  # half the memory of float32 while training
    views = [*samples, *(flipped(s) for s in samples)]
    with torch.no_grad():
        direct = net(InputSet(views).batch(range(len(views)), "cpu"))
        from_cache = net.from_features(cached.batch(range(len(views)), "cpu"))
    torch.testing.assert_close(from_cache, direct, atol=2e-2, rtol=2e-2)  # float16 features: close, not equal
    assert len(predict_samples(net, spec, cached, device="cpu")) == len(views)


def test_a_flipped_sample_mirrors_pixels_and_boxes_together() -> None:
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    image[4:12, 2:10] = 255  # a bright square where the box is
    sample = DetectionSample(image, np.array([[6 / 32, 8 / 32, 8 / 32, 8 / 32]], dtype=np.float32), np.array([3]))
    mirror = flipped(sample)
    cx, cy, w, _ = mirror.boxes[0]
    x0, x1 = round((cx - w / 2) * 32), round((cx + w / 2) * 32)
    assert mirror.image[4:12, x0:x1].min() == 255 and mirror.image.sum() == image.sum()
    assert cy == sample.boxes[0, 1] and mirror.classes.tolist() == [3]
    again = flipped(mirror)
    np.testing.assert_array_equal(again.image, image)
    np.testing.assert_allclose(again.boxes, sample.boxes)


class _Answers:
    """A one-pass model that answers the given faces, one image after the other (what compare_pipelines sees)."""

    needs_landmarks = False
    needs_pixels = True

    def __init__(self, name: str, answers: list[list[FacePrediction]]) -> None:
        self.card = ModelCard(id=name, kind="detector", name=name, classes=list(EMOTIONS))
        self.answers = answers

    def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData] = ()) -> list[FacePrediction]:
        return self.answers.pop(0)


def test_the_comparison_scores_every_pipeline_on_the_faces_all_of_them_found(synthetic_yolo: Path) -> None:
    """A pipeline that finds only the easy face keeps a high accuracy on its own faces; on the faces both found, the
    two are scored alike."""
    ds = read_yolo_dataset(synthetic_yolo)
    item = next(i for i in ds.splits["train"] if len(i.boxes) == 2)
    truth = [(b.xyxy(), ds.emotions[b.class_id]) for b in item.boxes]
    wrong = next(e for e in EMOTIONS if e != truth[1][1])

    def face(k: int, emotion: str) -> FacePrediction:
        return FacePrediction(box=tuple(truth[k][0]), emotion=emotion, confidence=0.9, probabilities={})  # type: ignore[arg-type]

    both = _Answers("both", [[face(0, truth[0][1]), face(1, wrong)]])
    easy = _Answers("easy", [[face(0, truth[0][1])]])
    scores = compare_pipelines({"both": Recognizer(both), "easy": Recognizer(easy)}, [item], ds.emotions)
    by_name = {s.name: s for s in scores}
    assert by_name["both"].emotion_accuracy == 0.5 and by_name["both"].face_recall == 1.0
    assert by_name["easy"].emotion_accuracy == 1.0 and by_name["easy"].face_recall == 0.5
    assert all(s.common_faces == 1 and s.common_accuracy == 1.0 for s in scores)


def test_a_cancel_while_the_frozen_features_are_cached_stops_before_any_epoch(synthetic_yolo: Path) -> None:
    import threading

    from core.detector.train import DetectorConfig, train_detector

    ds = read_yolo_dataset(synthetic_yolo)
    samples = samples_from_yolo(ds.splits["train"], yolo_class_map(ds.emotions, ds.emotions), 64)
    net = GridDetector(len(ds.emotions), 3, (8, 8, 8, 8, 16), "efficientnet_lite0", pretrained=False)
    cancel = threading.Event()
    calls = 0
    features = net.features

    def cancel_after_one_batch(x: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        cancel.set()
        return features(x)

    net.features = cancel_after_one_batch  # type: ignore[method-assign]
    cached = cache_features(net, samples, device="cpu", flip=True, batch_size=2, cancel=cancel)
    assert calls == 1 and len(cached.samples) == len(cached.features or []) == 2  # views and features stay paired
    config = DetectorConfig(input_size=64, epochs=2, batch_size=4, widths=(8, 8, 8, 8, 16),
                            backbone="efficientnet_lite0", device="cpu")  # fmt: skip
    result = train_detector(samples, samples, ds.emotions, config, cancel=cancel)
    assert result.cancelled and result.history == []
