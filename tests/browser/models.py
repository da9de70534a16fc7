"""Which model registry the browser tests serve: the project's (with the shipped starter model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.registry import Registry
from core.settings import PROJECT_ROOT
from tests.browser.harness import in_ci


def browser_models_dir(tmp_path: Path) -> Path:
    """The project's models/ when it has an active or starter model; skips locally (fails in CI) otherwise."""
    models = PROJECT_ROOT / "models"
    if Registry(models).active_id() is None:
        reason = "no model to serve: models/starter is not shipped and no model is active"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return models
