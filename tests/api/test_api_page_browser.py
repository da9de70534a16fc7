"""End to end in real headless Chromium: the API's standalone page at `/` (served by a real uvicorn) shows the fake
camera, posts frames to /api/predict/stream and shows the emotion, its confidence and its artwork."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from core.apikeys import ApiKeys
from core.auth import OPERATOR, Role, acting_as
from core.auth.users import add_user
from core.db import dispose_engine
from core.migrations import open_database
from core.settings import Settings
from tests.browser.harness import chromium_args, free_port, require_chromium, server, uvicorn_cmd, write_y4m
from tests.browser.models import browser_models_dir

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real Chromium: seconds each


@contextmanager
def api_page(tmp_path: Path, astronaut_rgb: np.ndarray, face_variants: list[np.ndarray], **env: str) -> Iterator[Page]:
    """The API's page at `/` in headless Chromium with a fake camera showing the face photo, served by uvicorn."""
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    models_dir = browser_models_dir(tmp_path, face_variants)
    y4m = write_y4m(tmp_path / "face.y4m", astronaut_rgb)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"DATA_ROOT": str(tmp_path / "data"), "MODELS_DIR": str(models_dir), "DATABASE_URL": "", **env}
    with server(uvicorn_cmd(port), f"{url}/health", env, tmp_path / "api.log"), sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, headless=True, args=chromium_args(y4m)
        )
        try:
            page = context.new_page()
            page.goto(url, wait_until="domcontentloaded")
            yield page
        finally:
            context.close()


def test_api_page_shows_emotion_confidence_and_artwork(
    tmp_path: Path, astronaut_rgb: np.ndarray, face_variants: list[np.ndarray]
) -> None:
    from playwright.sync_api import expect

    with api_page(tmp_path, astronaut_rgb, face_variants) as page:
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
    log = (tmp_path / "api.log").read_text()
    assert '"component": "core.api.access"' in log and '"/api/predict/stream"' in log


def test_api_page_asks_for_a_key_and_sends_it(
    tmp_path: Path, astronaut_rgb: np.ndarray, face_variants: list[np.ndarray]
) -> None:
    """With API_REQUIRE_KEY the page explains how to get a key, sends nothing without one, refuses a wrong one and
    works once a valid key is entered."""
    from playwright.sync_api import expect

    settings = Settings(_env_file=None, data_root=tmp_path / "data", database_url=None)  # type: ignore[call-arg]
    with acting_as(OPERATOR):
        add_user(open_database(settings.resolved_database_url), "kiosk@example.org", Role.VIEWER)
    key = ApiKeys(settings).create("kiosk@example.org", "browser test").key
    dispose_engine(settings.resolved_database_url)
    with api_page(tmp_path, astronaut_rgb, face_variants, API_REQUIRE_KEY="true") as page:
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.url) if "/api/predict" in r.url else None)
        form = page.locator("#keyform")
        expect(form).to_be_visible(timeout=15_000)
        expect(form).to_contain_text("python -m core apikeys create")
        page.wait_for_timeout(3000)  # frames go out once a second, but none while the form is open
        assert len(sent) <= 1, sent  # (one may leave before /health has answered, and earns the 401 that asks)

        page.fill("#apikey", key[:-3] + "zzz")
        page.click("#keysave")
        expect(form).to_be_visible(timeout=15_000)  # the server said 401: the form comes back
        expect(page.locator("#status")).to_contain_text("not valid", timeout=15_000)

        page.fill("#apikey", key)
        page.click("#keysave")
        expect(page.locator("#confidence")).to_contain_text("% confident", timeout=30_000)
        expect(form).to_be_hidden()
        assert page.evaluate("() => sessionStorage.getItem('expression-studio-api-key')") == key
    log = (tmp_path / "api.log").read_text()
    assert '"status": 401' in log and '"status": 200' in log and key not in log
