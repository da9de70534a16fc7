"""End to end in real headless Chromium: the Live page streams a fake camera (a real face photo) over WebRTC
to the Streamlit server, and a prediction for that face appears on the page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.browser.live import live_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real Chromium: seconds each


def test_live_page_shows_a_prediction_for_the_camera_face(
    tmp_path: Path, astronaut_rgb: np.ndarray, face_variants: list[np.ndarray]
) -> None:
    with live_page(tmp_path, astronaut_rgb, face_variants, wait_for="Detected:", timeout_ms=15_000) as (page, _):
        seen = page.get_by_text("Detected:").first.inner_text()
        emotion = seen.split("Detected:")[1].split()[0]
        assert emotion, seen
        assert "%" in seen
        # The speed figures are on the page too.
        page.wait_for_function("document.body.innerText.includes('Processing FPS')", timeout=10_000)
        page.wait_for_function("document.body.innerText.includes('Latency per frame')", timeout=10_000)
