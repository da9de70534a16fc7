"""The Live page in real headless Chromium with a fake camera, started and streaming: shared by the Live browser
tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tests.browser.harness import ROOT, chromium_args, free_port, require_chromium, server, streamlit_cmd, write_y4m
from tests.browser.models import browser_models_dir

ATTEMPTS = 3  # about 1 run in 20 gets no stream (a stale-context reset): reload and press START again


@contextmanager
def live_page(
    tmp_path: Path, photo: np.ndarray, face_variants: list[np.ndarray], *, wait_for: str, timeout_ms: int, fps: int = 15
) -> Iterator[tuple[Any, float]]:
    """Serve the app, open /Live with a fake camera showing `photo`, press START and wait until `wait_for` is on the
    page. Yields the Playwright page and the seconds from START until then. The server's log is tmp_path/st.log."""
    chromium = require_chromium()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    models_dir = browser_models_dir(tmp_path, face_variants)
    y4m = write_y4m(tmp_path / "face.y4m", photo, seconds=4.0, fps=fps)
    port = free_port()
    env = {"DATA_ROOT": str(tmp_path / "data"), "MODELS_DIR": str(models_dir), "DATABASE_URL": ""}
    url = f"http://127.0.0.1:{port}"
    with (
        server(streamlit_cmd(ROOT / "streamlit_app.py", port), f"{url}/_stcore/health", env, tmp_path / "st.log"),
        sync_playwright() as p,
    ):
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, headless=True, args=chromium_args(y4m)
        )
        try:
            page = context.new_page()
            for attempt in range(ATTEMPTS):
                page.goto(f"{url}/Live", wait_until="domcontentloaded")
                frame = page.frame_locator('iframe[title*="webrtc"]')
                frame.get_by_role("button", name="START").click(timeout=60_000)
                started = time.monotonic()
                frame.get_by_role("button", name="STOP").wait_for(timeout=30_000)
                try:
                    page.wait_for_function(f"document.body.innerText.includes({wait_for!r})", timeout=timeout_ms)
                    break
                except PlaywrightTimeout:
                    if attempt == ATTEMPTS - 1:
                        page.screenshot(path=str(tmp_path / "live-failed.png"))
                        raise
            yield page, time.monotonic() - started
        finally:
            context.close()
