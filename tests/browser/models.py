"""Which model registry the browser tests serve: the project's models/ (the shipped starter model) when it has a
model, else a temporary registry with a real landmark model fitted on the face photos (so the tests never skip)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.models.registry import Registry
from core.settings import PROJECT_ROOT
from tests.live.real_model import save_registry_model


def browser_models_dir(tmp_path: Path, images: Sequence[np.ndarray]) -> Path:
    models = PROJECT_ROOT / "models"
    if Registry(models).active_id() is not None:
        return models
    local = tmp_path / "models"
    save_registry_model(local, images)
    return local
