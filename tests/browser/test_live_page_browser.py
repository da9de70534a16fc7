"""End to end in real headless Chromium: the Live page streams a fake camera (a real face photo) over WebRTC
to the Streamlit server, and a prediction for that face appears on the page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.browser.harness import (
    ROOT,
    chromium_args,
    free_port,
    require_chromium,
    server,
    streamlit_cmd,
    write_y4m,
)
from tests.browser.models import browser_models_dir

pytestmark = pytest.mark.browser

ATTEMPTS = 3  # about 1 run in 20 gets no stream (a stale-context reset): reload and press START again


def test_live_page_shows_a_prediction_for_the_camera_face(
    tmp_path: Path, astronaut_rgb: np.ndarray, face_variants: list[np.ndarray]
) -> None:
    chromium = require_chromium()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    models_dir = browser_models_dir(tmp_path, face_variants)
    y4m = write_y4m(tmp_path / "face.y4m", astronaut_rgb)
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
            seen = None
            for attempt in range(ATTEMPTS):
                page.goto(f"{url}/Live", wait_until="domcontentloaded")
                frame = page.frame_locator('iframe[title*="webrtc"]')
                frame.get_by_role("button", name="START").click(timeout=60_000)
                frame.get_by_role("button", name="STOP").wait_for(timeout=30_000)
                try:
                    page.get_by_text("Detected:").first.wait_for(timeout=15_000)
                    seen = page.get_by_text("Detected:").first.inner_text()
                    break
                except PlaywrightTimeout:
                    if attempt == ATTEMPTS - 1:
                        page.screenshot(path=str(tmp_path / "live-failed.png"))
                        raise
            assert seen is not None
            emotion = seen.split("Detected:")[1].split()[0]
            assert emotion, seen
            assert "%" in seen
            # The speed figures are on the page too.
            page.wait_for_function("document.body.innerText.includes('Processing FPS')", timeout=10_000)
            page.wait_for_function("document.body.innerText.includes('Latency per frame')", timeout=10_000)
        finally:
            context.close()
