"""Real-browser test support: Chromium (Debian package) via Playwright, a fake camera, and real servers.

In CI (env CI set) a missing Chromium is a failure, never a skip: the live path must be covered there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from tests.ci import skip_or_fail

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


def require_chromium() -> str:
    """The Chromium path; skips locally (fails in CI) when Chromium or Playwright is missing."""
    reason = None
    if not Path(CHROMIUM).is_file():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright Python package is not installed"
    if reason:
        skip_or_fail(f"browser tests: {reason}")
    return CHROMIUM


def write_y4m(path: Path, rgb: np.ndarray, seconds: float = 2.0, fps: int = 15) -> Path:
    """A 640x480 yuv420p .y4m of a still photo, the format Chromium's fake camera reads."""
    import cv2

    h, w = rgb.shape[:2]
    scale = 480 / h
    scaled = cv2.resize(rgb, (round(w * scale), 480), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 96, np.uint8)
    x = max(0, (640 - scaled.shape[1]) // 2)
    canvas[:, x : x + min(640, scaled.shape[1])] = scaled[:, :640]
    with av.open(str(path), mode="w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
        for _ in range(int(seconds * fps)):
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def chromium_args(y4m: Path) -> list[str]:
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server at {url} did not come up in {timeout_s} s:\n{log.read_text()[-3000:]}")


@contextmanager
def server(args: list[str], health_url: str, env: dict[str, str], log: Path, *, cwd: Path = ROOT) -> Iterator[None]:
    """Run a server process (from the repo root unless `cwd` says otherwise) until the block ends; its output goes
    to `log`."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_http(health_url, 90, proc, log)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def streamlit_cmd(script: Path, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def dashboard_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a dashboard process on the test's data root, with no database URL or Gemini key of this
    machine; `extra` adds or overrides variables."""
    return {
        "DATA_ROOT": str(settings.data_root),
        "MODELS_DIR": str(settings.models_dir),
        "DATABASE_URL": "",
        "GEMINI_API_KEY": "",
        **extra,
    }


def app_folder(folder: Path) -> Path:
    """A working directory for the dashboard with the project's .streamlit/config.toml and nothing else in it."""
    (folder / ".streamlit").mkdir(parents=True)
    (folder / ".streamlit" / "config.toml").write_text((ROOT / ".streamlit" / "config.toml").read_text())
    return folder


@contextmanager
def dashboard(port: int, env: dict[str, str], log: Path, *, cwd: Path = ROOT) -> Iterator[str]:
    """The Streamlit dashboard (streamlit_app.py) serving on `port` until the block ends; yields its URL."""
    url = f"http://127.0.0.1:{port}"
    with server(streamlit_cmd(ROOT / "streamlit_app.py", port), f"{url}/_stcore/health", env, log, cwd=cwd):
        yield url


@contextmanager
def chromium_browser(chromium: str) -> Iterator[Browser]:
    """A headless Chromium (the path from `require_chromium`) driven by Playwright, closed when the block ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


def uvicorn_cmd(port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "core.api:app", "--host", "127.0.0.1", "--port", str(port)]


def have(binary: str) -> bool:
    return shutil.which(binary) is not None
