"""In real headless Chromium: the approval card's keyboard shortcuts approve and undo (AppTest cannot press keys)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from core.active_learning.review_queue import queue_items
from core.db import dispose_engine
from core.settings import Settings
from core.store import Store
from tests.active_learning.test_page import _setup
from tests.browser.harness import chromium_browser, dashboard, dashboard_env, free_port, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real Chromium: seconds each


def _wait_status(store: Store, image_id: int, status: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = store.get(image_id)
        if record is not None and record.status == status:
            return
        time.sleep(0.3)
    raise AssertionError(f"image #{image_id} did not become {status!r} within {timeout_s} s")


def test_keyboard_shortcuts_approve_and_undo(
    settings: Settings, tmp_path: Path, face_variants: list[np.ndarray]
) -> None:
    chromium = require_chromium()
    store = _setup(settings, face_variants)
    first = queue_items(store)[0]
    env = dashboard_env(settings, EXTRACT_WORKERS="1")
    try:
        with (
            dashboard(free_port(), env, tmp_path / "st.log") as url,
            chromium_browser(chromium) as browser,
        ):
            page = browser.new_page()
            page.goto(f"{url}/Active_Learning", wait_until="domcontentloaded")
            page.get_by_text(f"Image #{first.image_id}").first.wait_for(timeout=60_000)
            page.get_by_role("button", name="Approve").wait_for(timeout=30_000)

            def press(key: str) -> None:
                page.wait_for_timeout(1000)  # a shortcut is registered once its (re-)rendered button has mounted
                page.get_by_role("heading", name="Review").click()  # focus the page, not a text field
                page.keyboard.press(key)

            press("a")
            _wait_status(store, first.image_id, "train")
            page.get_by_text(f"Undo last (approve #{first.image_id})").first.wait_for(timeout=30_000)
            press("u")
            _wait_status(store, first.image_id, "queued")
            page.get_by_text(f"Image #{first.image_id}").first.wait_for(timeout=30_000)
            press("x")
            _wait_status(store, first.image_id, "rejected")
    finally:
        dispose_engine(settings.resolved_database_url)
