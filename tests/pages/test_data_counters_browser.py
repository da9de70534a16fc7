"""The Data page's extraction counters follow a running extraction, in headless Chromium: while the user's extraction
job is unfinished, images leaving "Pending" show up on the page without a reload (they stayed frozen before)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.auth import LOCAL_USER, acting_as
from core.db import dispose_engine
from core.imaging import encode_png
from core.jobs import JobQueue
from core.landmarks.kinds import EXTRACTION, ExtractionParams
from core.schema import EXTRACTION_NO_FACE
from core.settings import Settings
from core.store import Store
from tests.browser.harness import chromium_browser, dashboard, dashboard_env, free_port, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real Chromium: seconds each


def test_counters_follow_a_running_extraction(
    settings: Settings, tmp_path: Path, face_variants: list[np.ndarray]
) -> None:
    chromium = require_chromium()
    from playwright.sync_api import Page, expect

    store = Store(settings)
    ids = [
        store.add_image(encode_png(face), original_name=f"happy_{i}.png").image_id
        for i, face in enumerate(face_variants[:3])
    ]
    with acting_as(LOCAL_USER):  # the page's user in local mode; no worker runs, so the job stays unfinished
        JobQueue(settings).submit(EXTRACTION, ExtractionParams())
    env = dashboard_env(settings, AUTH_MODE="local", START_WORKER="false", HOME=str(tmp_path / "home"))

    def metric(page: Page, label: str):  # type: ignore[no-untyped-def]
        box = page.locator('[data-testid="stMetric"]').filter(has_text=label)
        return box.locator('[data-testid="stMetricValue"]')

    try:
        with (
            dashboard(free_port(), env, tmp_path / "st.log") as url,
            chromium_browser(chromium) as browser,
        ):
            page = browser.new_page()
            page.goto(f"{url}/Data", wait_until="domcontentloaded")
            expect(metric(page, "Pending")).to_have_text("3", timeout=90_000)
            expect(metric(page, "No face")).to_have_text("0")
            # What a worker does as it goes: one image done (here: no face found).
            store.save_extractions([(ids[0], EXTRACTION_NO_FACE, "no face found", 0, None)])
            expect(metric(page, "Pending")).to_have_text("2", timeout=30_000)
            expect(metric(page, "No face")).to_have_text("1")
    finally:
        dispose_engine(settings.resolved_database_url)
