"""End to end in real headless Chromium: the API's standalone page at `/` (served by a real uvicorn) shows the fake
camera, posts frames to /api/predict/stream and shows the emotion, its confidence and its artwork."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.apikeys import ApiKeys
from core.db import dispose_engine
from core.settings import Settings
from tests.browser.harness import chromium_args, free_port, require_chromium, server, uvicorn_cmd, write_y4m
from tests.browser.models import browser_models_dir

pytestmark = pytest.mark.browser


def test_api_page_shows_emotion_confidence_and_artwork(
    tmp_path: Path, astronaut_rgb: np.ndarray, face_variants: list[np.ndarray]
) -> None:
    chromium = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    models_dir = browser_models_dir(tmp_path, face_variants)
    y4m = write_y4m(tmp_path / "face.y4m", astronaut_rgb)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"DATA_ROOT": str(tmp_path / "data"), "MODELS_DIR": str(models_dir), "DATABASE_URL": ""}
    with server(uvicorn_cmd(port), f"{url}/health", env, tmp_path / "api.log"), sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, headless=True, args=chromium_args(y4m)
        )
        try:
            page = context.new_page()
            page.goto(url, wait_until="domcontentloaded")
            expect(page.locator("#model")).to_contain_text("model ", timeout=15_000)
            expect(page.locator("#confidence")).to_contain_text("% confident", timeout=30_000)
            emotion = (page.locator("#emotion").text_content() or "").strip()  # raw text: CSS capitalises it
            assert emotion and emotion not in ("—", "no face")
            artwork = page.locator("#artwork")
            expect(artwork).to_be_visible()
            assert artwork.get_attribute("src") == f"/api/art/{emotion}.svg"
            # The artwork really loaded (an SVG with a size), not a broken image.
            assert page.evaluate("() => document.getElementById('artwork').naturalWidth") > 0
            expect(page.locator("#status")).to_contain_text("analysed in")
            expect(page.locator("#keyform")).to_be_hidden()  # local mode: no key needed, none asked for
        finally:
            context.close()
    log = (tmp_path / "api.log").read_text()
    assert '"component": "core.api.access"' in log and '"/api/predict/stream"' in log


def test_api_page_asks_for_a_key_and_sends_it(
    tmp_path: Path, astronaut_rgb: np.ndarray, face_variants: list[np.ndarray]
) -> None:
    """With API_REQUIRE_KEY the page explains how to get a key, sends nothing without one, refuses a wrong one and
    works once a valid key is entered."""
    chromium = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    models_dir = browser_models_dir(tmp_path, face_variants)
    y4m = write_y4m(tmp_path / "face.y4m", astronaut_rgb)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "DATA_ROOT": str(tmp_path / "data"),
        "MODELS_DIR": str(models_dir),
        "DATABASE_URL": "",
        "API_REQUIRE_KEY": "true",
    }
    settings = Settings(_env_file=None, data_root=tmp_path / "data", database_url=None)  # type: ignore[call-arg]
    key = ApiKeys(settings).create("kiosk@example.org", "browser test").key
    dispose_engine(settings.resolved_database_url)
    with server(uvicorn_cmd(port), f"{url}/health", env, tmp_path / "api.log"), sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, headless=True, args=chromium_args(y4m)
        )
        try:
            page = context.new_page()
            page.goto(url, wait_until="domcontentloaded")
            form = page.locator("#keyform")
            expect(form).to_be_visible(timeout=15_000)
            expect(form).to_contain_text("python -m core apikeys create")
            page.wait_for_timeout(2500)  # frames would go out once a second; none may while the form is open
            assert (page.locator("#emotion").text_content() or "").strip() == "—"

            page.fill("#apikey", key[:-3] + "zzz")
            page.click("#keysave")
            expect(form).to_be_visible(timeout=15_000)  # the server said 401: the form comes back
            expect(page.locator("#status")).to_contain_text("not valid", timeout=15_000)

            page.fill("#apikey", key)
            page.click("#keysave")
            expect(page.locator("#confidence")).to_contain_text("% confident", timeout=30_000)
            expect(form).to_be_hidden()
            assert page.evaluate("() => sessionStorage.getItem('expression-studio-api-key')") == key
        finally:
            context.close()
    log = (tmp_path / "api.log").read_text()
    assert '"status": 401' in log and '"status": 200' in log and key not in log
