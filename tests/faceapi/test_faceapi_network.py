"""face-api's expression network as shipped ONNX: the file is verified, and it reproduces face-api itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelFileCorrupt
from core.faceapi.network import INPUT_SIZE, NETWORK_EMOTIONS, ExpressionNetwork, face_crop, softmax
from core.settings import PROJECT_ROOT, Settings

REFERENCE = PROJECT_ROOT / "tests" / "data" / "faceapi_reference.npz"


def _settings(path: Path) -> Settings:
    return Settings(_env_file=None, faceapi_model_path=path)  # type: ignore[call-arg]


def test_a_file_with_another_hash_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    shipped = Settings(_env_file=None).faceapi_model_path  # type: ignore[call-arg]
    tampered = tmp_path / "face_expression.onnx"
    shutil.copyfile(shipped, tampered)
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the weights
    tampered.write_bytes(bytes(data))
    with pytest.raises(ModelFileCorrupt, match=r"face-api expression network .* has sha256 .* expected") as err:
        ExpressionNetwork(_settings(tampered))
    assert "convert_faceapi.py" in str(err.value)
    with pytest.raises(ModelFileCorrupt, match="face-api expression network not found"):
        ExpressionNetwork(_settings(tmp_path / "missing.onnx"))
    ExpressionNetwork(_settings(shipped))  # the shipped file itself passes


def test_the_port_reproduces_face_api_reference_outputs() -> None:
    """Inputs and outputs recorded by scripts/convert_faceapi.py from face-api 1.7.15 running in node."""
    ref = np.load(REFERENCE)
    assert ref["inputs"].shape[1:] == (INPUT_SIZE, INPUT_SIZE, 3) and len(ref["inputs"]) >= 5
    out = ExpressionNetwork(_settings(Settings(_env_file=None).faceapi_model_path)).run(ref["inputs"])  # type: ignore[call-arg]
    np.testing.assert_allclose(out.logits, ref["logits"], atol=1e-3)
    np.testing.assert_allclose(softmax(out.logits), ref["probabilities"], atol=1e-3)
    np.testing.assert_allclose(out.embedding, ref["embedding"], atol=1e-3)
    # The references are not all alike (a port that ignored its input could not match them all).
    assert len({int(np.argmax(p)) for p in ref["probabilities"]}) >= 2
    assert NETWORK_EMOTIONS[int(np.argmax(ref["probabilities"][0]))] == "happy"  # the smiling astronaut


def test_the_crop_is_a_square_around_the_box_padded_black_outside_the_image() -> None:
    rgb = np.full((100, 200, 3), 200, dtype=np.uint8)
    inside = face_crop(rgb, (0.25, 0.2, 0.75, 0.8), scale=1.0)  # 100x60 px box: a 100 px square, all inside the width
    assert inside.shape == (INPUT_SIZE, INPUT_SIZE, 3) and inside.dtype == np.uint8
    assert inside[2:-2].min() == 200  # the square's rows span the image's full height
    # 20x50 px at the left edge: the 50 px square starts at x = -15.
    edge = face_crop(rgb, (0.0, 0.0, 0.1, 0.5), scale=1.0)
    assert edge[:, :25].max() == 0 and edge[:, -25:].min() == 200
    loose = face_crop(rgb, (0.25, 0.2, 0.75, 0.8), scale=1.3)  # 130 px: 15 px above and below the image are black
    assert loose[:5].max() == 0 and loose[-5:].max() == 0 and loose[56, 56:60].min() == 200
