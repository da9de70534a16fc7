"""Helpers for the job tests: a store of distinct real face images, and worker subprocesses on the same database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from core.imaging import encode_png
from core.settings import Settings
from core.store import Store

ROOT = Path(__file__).resolve().parents[2]


def fill_store(store: Store, variants: list[np.ndarray], n: int) -> list[int]:
    """`n` distinct real face images (the variants, each with a different pixel changed so their bytes differ)."""
    ids = []
    for i in range(n):
        img = variants[i % len(variants)].copy()
        img[0, i % img.shape[1], :] = (i * 37) % 256
        img[1, 0, 0] = i // 256
        ids.append(store.add_image(encode_png(img), original_name=f"face_{i}.png", emotion="happy").image_id)
    return ids


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "GEMINI", "GOOGLE_API"))}
    env.update(
        DATA_ROOT=str(settings.data_root),
        MODELS_DIR=str(settings.models_dir),
        DATABASE_URL=settings.resolved_database_url,
        EXTRACT_WORKERS="1",
        JOB_HEARTBEAT_S="0.2",
        JOB_STALE_AFTER_S="2",
        AUTH_MODE="local",
        STARTER_MODEL=str(settings.starter_model).lower(),  # as the test's own Settings: no shipped models unasked
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `python -m core worker` subprocesses; every one still running at the end is killed."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(settings: Settings, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"worker-{len(procs)}.log", "wb")  # noqa: SIM115  (closed with the process)
        proc = subprocess.Popen(
            [sys.executable, "-m", "core", "worker", "--poll", "0.2", *args],
            cwd=ROOT,
            env=worker_env(settings, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)
