"""face-api's network in torch: equal to the shipped ONNX model, fine-tuned on real face crops, saved as ONNX,
loaded by the registry, and trained from the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import ModelFileCorrupt, StudioError, TrainingDataError
from core.faceapi.network import NETWORK_EMOTIONS, ExpressionNetwork, face_crop
from core.faceapi_torch.model import FineTunedModel, save_finetuned
from core.faceapi_torch.net import shipped_network, with_classes
from core.faceapi_torch.train import (
    FineTuneConfig,
    augment_face,
    load_face_crops,
    predict_proba,
    train_finetune,
    trainable_parameters,
)
from core.inference import Recognizer
from core.landmarks.extractor import LandmarkExtractor
from core.models.registry import Registry
from core.settings import PROJECT_ROOT, Settings
from core.store import Store
from core.store.repository import Filters

REFERENCE = PROJECT_ROOT / "tests" / "data" / "faceapi_reference.npz"
TINY = FineTuneConfig(mode="last", epochs=2, batch_size=4, device="cpu", val_fraction=0.34, patience=0)


def test_the_torch_network_equals_the_shipped_onnx_model_on_real_crops(
    settings: Settings, astronaut_rgb: np.ndarray
) -> None:
    """The reference crops (real MediaPipe crops of a real face, tighter/looser/gray/low-res, a pattern) and a fresh
    crop: logits and embeddings within 1e-4 of onnxruntime on the shipped file."""
    crops = np.load(REFERENCE)["inputs"]
    with LandmarkExtractor(settings, mode="image") as extractor:
        [face] = extractor.detect_still(astronaut_rgb)
    crops = np.concatenate([crops, face_crop(astronaut_rgb, face.bbox)[None]]).astype(np.float32)
    onnx_out = ExpressionNetwork(settings).run(crops)
    with torch.no_grad():
        logits, embedding = shipped_network(settings)(torch.from_numpy(crops))
    np.testing.assert_allclose(logits.numpy(), onnx_out.logits, atol=1e-4)
    np.testing.assert_allclose(embedding.numpy(), onnx_out.embedding, atol=1e-4)
    assert NETWORK_EMOTIONS[int(logits[-1].argmax())] == "happy"


def test_a_new_head_starts_as_the_network_alone() -> None:
    """Known classes keep their rows (same ranking, same probabilities among them); contempt starts unlikely."""
    crops = np.load(REFERENCE)["inputs"].astype(np.float32)
    base = predict_proba(shipped_network(), crops, "cpu")
    classes = ["angry", "happy", "neutral", "sad", "contempt"]
    proba = predict_proba(with_classes(shipped_network(), classes), crops, "cpu")
    known = base[:, [NETWORK_EMOTIONS.index(c) for c in classes[:4]]]
    np.testing.assert_allclose(proba[:, :4] / proba[:, :4].sum(1, keepdims=True), known / known.sum(1, keepdims=True),
                               atol=1e-5)  # fmt: skip
    assert (proba[:, 4] < proba[:, :4].max(1)).all()


def test_modes_freeze_what_they_should() -> None:
    net = shipped_network()
    trainable_parameters(net, FineTuneConfig(mode="head"))
    assert {n.split(".")[0] for n, p in net.named_parameters() if p.requires_grad} == {"fc"}
    trainable_parameters(net, FineTuneConfig(mode="last"))
    assert {n.split(".")[0] for n, p in net.named_parameters() if p.requires_grad} == {"fc", "dense3"}
    trainable_parameters(net, FineTuneConfig(mode="all"))
    assert all(p.requires_grad for p in net.parameters())
    with pytest.raises(StudioError, match="unknown fine-tuning mode"):
        FineTuneConfig(mode="middle")  # type: ignore[arg-type]


def test_augmentation_keeps_the_face_in_place(face_variants: list[np.ndarray]) -> None:
    crop = face_crop(face_variants[0], (0.3, 0.2, 0.7, 0.7))
    rng = np.random.default_rng(0)
    out = [augment_face(crop, rng) for _ in range(8)]
    assert all(o.shape == crop.shape and o.dtype == np.uint8 for o in out)
    assert any(not np.array_equal(o, crop) for o in out)
    # Small moves: every augmented crop stays far closer to its source than the mirror image is.
    mirror = np.abs(crop[:, ::-1].astype(int) - crop).mean()
    assert max(np.abs(o.astype(int) - crop).mean() for o in out) < mirror * 3


def test_fine_tune_save_load_predict(face_store: Store, settings: Settings, face_variants: list[np.ndarray]) -> None:
    data = load_face_crops(face_store)
    assert data.crops.shape == (6, 112, 112, 3) and data.classes == ["happy", "sad"] and data.groups is not None
    result = train_finetune(data, settings, TINY)
    assert [h.epoch for h in result.history] == [0, 1, 2]  # epoch 0: the network alone, scored first
    assert result.history[0].train_loss is None and result.num_val > 0
    registry = Registry(settings.models_dir)
    card = save_finetuned(registry, result)
    assert card.kind == "faceapi_finetuned" and card.params["onnx_sha256"]
    model = registry.load(card.id)
    assert isinstance(model, FineTunedModel) and model.classes == ["happy", "sad"]
    # The ONNX artifact gives the torch network's probabilities.
    np.testing.assert_allclose(model.predict_crops(data.crops), predict_proba(result.net, data.crops, "cpu"),
                               atol=1e-4)  # fmt: skip
    # Through the one prediction path, on a real photo.
    with LandmarkExtractor(settings, mode="image") as extractor:
        predictions = Recognizer(model, extractor).predict(face_variants[0])
    assert len(predictions) == 1 and predictions[0].emotion in ("happy", "sad")
    # A tampered artifact is refused by its recorded hash.
    artifact = registry.folder(card.id) / "model.onnx"
    data_bytes = bytearray(artifact.read_bytes())
    data_bytes[len(data_bytes) // 2] ^= 1
    artifact.write_bytes(bytes(data_bytes))
    with pytest.raises(ModelFileCorrupt, match="sha256"):
        registry.load(card.id)


def test_one_class_is_refused(face_store: Store, settings: Settings) -> None:
    data = load_face_crops(face_store, Filters(emotions=["happy"]))
    with pytest.raises(TrainingDataError, match="two emotions"):
        train_finetune(data, settings, TINY)


def test_cli_image_train_and_backbones(
    face_store: Store, app_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli import main

    assert main(["image", "backbones"]) == 0
    out = capsys.readouterr().out
    assert "faceapi" in out and "pretrained: yes" in out and "resnet50" in out
    code = main(["image", "train", "--backbone", "faceapi", "--mode", "head", "--epochs", "1", "--batch", "4",
                 "--device", "cpu", "--force-activate"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "6 face crops" in out and "network alone" in out
    registry = Registry(app_env.models_dir)
    active = registry.active_id()
    assert active is not None and registry.card(active).kind == "faceapi_finetuned"
    assert main(["image", "train", "--epochs", "0"]) == 2


def test_missing_artifact_is_a_clear_error(face_store: Store, settings: Settings, tmp_path: Path) -> None:
    result = train_finetune(load_face_crops(face_store), settings, FineTuneConfig(epochs=1, device="cpu"))
    registry = Registry(settings.models_dir)
    card = save_finetuned(registry, result)
    shutil.rmtree(registry.folder(card.id))
    registry.folder(card.id).mkdir()
    (registry.folder(card.id) / "card.json").write_text(card.model_dump_json())
    with pytest.raises(ModelFileCorrupt, match=r"cannot read model\.onnx"):
        registry.load(card.id)


def test_train_page_fine_tunes_face_api(face_store: Store, app_env: Settings) -> None:
    """The image tab: the backbones table, then a fine-tuning job run by the worker the page starts."""
    from streamlit.testing.v1 import AppTest

    from core.faceapi_torch.kinds import FACEAPI_FINETUNING
    from tests.pages.test_train_page_torch import PAGE, _wait

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    [table] = [d.value for d in at.dataframe if "backbone" in d.value.columns]
    assert list(table["backbone"])[:1] == ["faceapi"] and list(table["pretrained"])[:1] == ["yes"]
    at.number_input(key="faceapi_epochs").set_value(1)
    at.number_input(key="faceapi_batch").set_value(4)
    at.selectbox(key="faceapi_mode").select("head")
    at.run()
    at.button(key="faceapi_start").click().run()
    job = _wait(at, FACEAPI_FINETUNING)
    assert job.status == "done", job.error
    assert not at.exception and job.result is not None
    assert job.result["history"][0]["epoch"] == 0 and any(job.result["model_id"] in s.value for s in at.success)


def test_wise_zero_gives_back_the_network_alone(face_store: Store, settings: Settings) -> None:
    data = load_face_crops(face_store)
    config = FineTuneConfig(mode="all", epochs=1, batch_size=3, device="cpu", val_fraction=0.34, wise=0.0)
    result = train_finetune(data, settings, config)
    start = with_classes(shipped_network(settings), data.classes)
    np.testing.assert_allclose(predict_proba(result.net, data.crops, "cpu"), predict_proba(start, data.crops, "cpu"),
                               atol=1e-6)  # fmt: skip
    with pytest.raises(StudioError, match="between 0 and 1"):
        FineTuneConfig(wise=1.5)
