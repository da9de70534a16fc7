"""A registered detector is served like any model: the REST API returns its boxes and emotions in the shared shape."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from core.api.factory import create_app
from core.detector.data import samples_from_yolo, yolo_class_map
from core.detector.model import model_params, save_detector
from core.detector.train import DetectorConfig, train_detector
from core.imaging import encode_png
from core.models.registry import Registry
from core.settings import Settings
from core.yolo import read_yolo_dataset


def test_api_serves_the_active_detector(synthetic_yolo: Path, settings: Settings) -> None:
    ds = read_yolo_dataset(synthetic_yolo)
    samples = samples_from_yolo(ds.splits["train"], yolo_class_map(ds.emotions, ds.emotions), 96)
    config = DetectorConfig(
        input_size=96,
        epochs=40,
        batch_size=8,
        widths=(8, 16, 32, 48, 64),
        augment=False,
        eval_every=40,
        backbone="grid",
    )
    result = train_detector(samples, samples, ds.emotions, config)
    registry = Registry(settings.models_dir)
    card = save_detector(
        registry,
        result.net,
        classes=ds.emotions,
        metrics={},
        # A low floor, so serving is tested without hinging on one CPU's confidence scores.
        params={**model_params(result.net, 96, result.spec, config.widths), "conf_threshold": 0.05},
    )
    registry.activate(card.id)

    with TestClient(create_app(settings), raise_server_exceptions=False, client=("127.0.0.1", 50000)) as client:
        png = encode_png(samples[2].image)  # three drawn faces
        response = client.post("/api/predict", files={"file": ("shapes.png", png, "image/png")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_id"] == card.id and body["model_kind"] == "detector"
    assert len(body["faces"]) >= 1
    for face in body["faces"]:
        assert face["emotion"] in ds.emotions and set(face["probabilities"]) == set(ds.emotions)
        x0, y0, x1, y1 = face["box"]
        assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0
        assert face["model_id"] == card.id
