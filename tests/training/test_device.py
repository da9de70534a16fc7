"""Device choice shared by the ResNet and the detector."""

from __future__ import annotations

import pytest
import torch

from core.errors import TrainingDataError
from core.training.device import resolve_device


def test_auto_and_explicit_devices() -> None:
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal only happens without a GPU")
def test_cuda_without_gpu_is_refused_clearly() -> None:
    with pytest.raises(TrainingDataError, match="no GPU is available"):
        resolve_device("cuda")
