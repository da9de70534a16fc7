"""A real Ray cluster for the executor tests: the one .ci/run started (STUDIO_TEST_RAY_ADDRESS), else a Ray started
in this process on loopback. Skipped locally only when ray is not installed; never in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from core.settings import Settings


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("ray is not installed (pip install 'ray[default]')")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a loopback test cluster needs no token
    yield os.environ.get("STUDIO_TEST_RAY_ADDRESS", "")
    ray.shutdown()


@pytest.fixture
def ray_settings(settings: Settings, ray_address: str) -> Settings:
    """The test's settings (same data root and database) with EXECUTOR=ray."""
    return settings.model_copy(update={"executor": "ray", "ray_address": ray_address})
