"""Shared fixtures: a real SQLite store in a temporary data root, and real face photos from scikit-image."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.db import dispose_engine
from core.imaging import encode_png
from core.settings import Settings, get_settings
from core.store import Store
from tests.postgres import scratch_database


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A real-browser test is slow whatever its file says: the fast lane (`-m "not slow"`) never starts Chromium."""
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Close landmarkers left open by pages, servers or tests before pytest's final garbage collection, where a
    MediaPipe landmarker closing itself from __del__ can hang the process."""
    from core.landmarks.extractor import close_all

    close_all()


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Streamlit's AppTest runs its script as `__main__` and leaves it there; a later test's spawned processes
    (multiprocessing re-runs `__main__` in each child) would then run that script. Put pytest's back."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(autouse=True)
def _stop_dashboard_workers() -> Iterator[None]:
    """Pages start a real job worker subprocess (core.jobs.local); stop the ones a test started."""
    yield
    import sys

    local = sys.modules.get("core.jobs.local")
    if local is None:
        return
    for proc in local._children:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=30)
        except Exception:
            proc.kill()
    local._children.clear()


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    s = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_root=tmp_path / "data",
        models_dir=tmp_path / "models",
        database_url=None,
        gemini_api_key=None,
        extract_workers=1,
        starter_model=False,  # tests start with no model; those that need the starter copy it in
    )
    yield s
    dispose_engine(s.resolved_database_url)


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store(settings)


@pytest.fixture
def app_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Point the process-wide settings (used by pages and the API) at the temporary data root."""
    monkeypatch.setenv("DATA_ROOT", str(settings.data_root))
    monkeypatch.setenv("MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("EXTRACT_WORKERS", "1")
    monkeypatch.setenv("STARTER_MODEL", "false")
    for key in ("DATABASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    """A real photograph of a smiling face (Eileen Collins), shipped with scikit-image."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def astronaut_png(astronaut_rgb: np.ndarray) -> bytes:
    return encode_png(astronaut_rgb)


@pytest.fixture(scope="session")
def face_variants(astronaut_rgb: np.ndarray) -> list[np.ndarray]:
    """Twelve distinct augmented versions of the real face photo (flip, rotation, scale, brightness, crop)."""
    rng = np.random.default_rng(0)
    out = []
    h, w = astronaut_rgb.shape[:2]
    for i in range(12):
        img = astronaut_rgb[: int(h * 0.75), int(w * 0.1) : int(w * 0.8)].copy()
        if i % 2:
            img = np.ascontiguousarray(img[:, ::-1])
        angle = float(rng.uniform(-12, 12))
        scale = float(rng.uniform(0.85, 1.1))
        ih, iw = img.shape[:2]
        m = cv2.getRotationMatrix2D((iw / 2, ih / 3), angle, scale)
        img = cv2.warpAffine(img, m, (iw, ih), borderMode=cv2.BORDER_REFLECT)
        img = np.clip(img.astype(np.float32) * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8)
        out.append(np.ascontiguousarray(img))
    return out


@pytest.fixture
def pg_settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings on a fresh database of the test server, so tests on one server never see each other's rows."""
    with scratch_database() as url:
        yield Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_root=tmp_path / "data",
            models_dir=tmp_path / "models",
            database_url=url,
            gemini_api_key=None,
            extract_workers=1,
            starter_model=False,
        )


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """A real Ray cluster for the EXECUTOR=ray tests: the one .ci/run started (STUDIO_TEST_RAY_ADDRESS), else ""
    (a Ray started in this process on loopback). Ray is a base requirement: no skip."""
    # Loopback only (see .ci/run): read when ray is imported, so before it.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a loopback test cluster needs no token
    yield os.environ.get("STUDIO_TEST_RAY_ADDRESS", "")
    ray.shutdown()


@pytest.fixture
def ray_settings(settings: Settings, ray_address: str) -> Settings:
    """The test's settings (same data root and database) with EXECUTOR=ray."""
    return settings.model_copy(update={"executor": "ray", "ray_address": ray_address})
