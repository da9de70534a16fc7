"""Crashes: extraction workers exit when their parent is killed with SIGKILL (no cleanup runs then)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.imaging import encode_jpeg
from core.schema import EXTRACTION_PENDING
from core.settings import Settings
from core.store import Store

pytestmark = pytest.mark.slow  # kills real process trees and waits for their jobs: seconds each

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return out


def _descendants(pid: int) -> list[int]:
    """Children, their children and so on: pool workers may be the fork server's children, not the CLI's."""
    found, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie is dead: where pid 1 does not reap orphans, a dead worker stays a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _extracted(store: Store) -> int:
    return sum(n for state, n in store.extraction_counts().items() if state != EXTRACTION_PENDING)


def test_extraction_workers_exit_when_the_cli_is_killed(settings: Settings, astronaut_rgb: np.ndarray) -> None:
    store = Store(settings)
    for i in range(300):  # enough work that the workers are busy when the parent dies
        img = astronaut_rgb.copy()
        img[i // 512, i % 512] = (i % 256, 7, 9)
        store.add_image(encode_jpeg(img, quality=80), original_name=f"happy_{i}.jpg", emotion="happy")
    env = {**os.environ, "DATA_ROOT": str(settings.data_root)}
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "extract", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            workers = _descendants(proc.pid)
        assert len(workers) >= 2, "the workers did not start"
        # Kill once the workers are at work: the first extractions are stored (a counter, not a guessed sleep).
        while _extracted(store) == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert 0 < _extracted(store) < 300, "the extraction did not start, or finished before the test could kill it"
        assert proc.poll() is None
        workers = _descendants(proc.pid)  # the whole tree: workers, their fork server, the resource tracker
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 20
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers), "workers outlived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in workers:  # only on failure: the workers this test started, never anything else
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
