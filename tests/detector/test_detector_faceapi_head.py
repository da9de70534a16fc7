"""The grid detector with face-api's network as its expression head: the card chooses it, the boxes stay the
detector's, the expressions are face-api's on each box (a real face: the smiling astronaut)."""

from __future__ import annotations

import numpy as np

from core.detector.boxes import Detection, GridSpec
from core.detector.faceapi_head import FaceApiHeadDetector
from core.detector.model import DetectorModel, model_params, save_detector
from core.detector.net import GridDetector
from core.landmarks.extractor import LandmarkExtractor
from core.models.registry import Registry
from core.settings import Settings

CLASSES = ["angry", "happy", "neutral", "sad", "contempt"]
WIDTHS = (8, 8, 8, 8, 8)


def test_the_card_chooses_the_faceapi_head_and_it_names_the_face(
    settings: Settings, astronaut_rgb: np.ndarray, monkeypatch
) -> None:
    net = GridDetector(len(CLASSES), 1, WIDTHS)
    spec = GridSpec(3, ((0.3, 0.3),))
    params = {**model_params(net, 96, spec, WIDTHS), "expression_head": "faceapi"}
    registry = Registry(settings.models_dir)
    card = save_detector(registry, net, classes=CLASSES, params=params, metrics={})
    model = registry.load(card.id)
    assert isinstance(model, FaceApiHeadDetector)
    plain = save_detector(registry, net, classes=CLASSES, params=model_params(net, 96, spec, WIDTHS), metrics={})
    assert type(registry.load(plain.id)) is DetectorModel

    # The box is the detector's (here the real face's box, as a trained detector would give it).
    with LandmarkExtractor(settings, mode="image") as extractor:
        [face] = extractor.detect_still(astronaut_rgb)
    detection = Detection(face.bbox, 0.9, 0, np.full(len(CLASSES), 1 / len(CLASSES)))
    monkeypatch.setattr(model, "detect_batch", lambda images, **_: [[detection] for _ in images])
    [prediction] = model.predict_faces(astronaut_rgb)
    assert prediction.box == face.bbox and prediction.emotion == "happy"
    assert set(prediction.probabilities) == set(CLASSES) and prediction.probabilities["contempt"] == 0.0
    monkeypatch.setattr(model, "detect_batch", lambda images, **_: [[] for _ in images])
    assert model.predict_faces(astronaut_rgb) == []


def test_the_pretrained_backbone_trains_frozen_and_round_trips(synthetic_yolo, settings: Settings) -> None:
    """EfficientNet-Lite0's ImageNet features under the grid head: only the neck and head learn; the saved model
    (every weight in its artifact) predicts what the trained network does."""
    import torch

    from core.detector.data import samples_from_yolo, yolo_class_map
    from core.detector.train import DetectorConfig, train_detector
    from core.yolo import read_yolo_dataset

    ds = read_yolo_dataset(synthetic_yolo)
    samples = samples_from_yolo(ds.splits["train"], yolo_class_map(ds.emotions, ds.emotions), 64)
    config = DetectorConfig(input_size=64, epochs=1, batch_size=4, widths=(8, 8, 8, 8, 32), augment=False,
                            backbone="efficientnet_lite0", device="cpu", eval_every=1)  # fmt: skip
    before = {k: v.clone() for k, v in GridDetector(len(ds.emotions), 3, config.widths, "efficientnet_lite0")
              .backbone[0].state_dict().items()}  # fmt: skip
    result = train_detector(samples, samples, ds.emotions, config)
    body = result.net.backbone[0].state_dict()
    assert all(torch.equal(body[k], before[k]) for k in before)  # frozen: ImageNet's weights and statistics
    registry = Registry(settings.models_dir)
    params = model_params(result.net, 64, result.spec, config.widths, "efficientnet_lite0")
    card = save_detector(registry, result.net, classes=ds.emotions, params=params, metrics={})
    loaded = registry.load(card.id)
    assert isinstance(loaded, DetectorModel) and card.params["backbone"] == "efficientnet_lite0"
    batch = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.net(batch), result.net.cpu().eval()(batch))
