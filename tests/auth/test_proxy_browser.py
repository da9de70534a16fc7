"""A local-mode dashboard on 127.0.0.1, in headless Chromium: opened directly it works; a request that carries a
reverse proxy's header (X-Forwarded-*, X-Real-IP or Forwarded, each alone) gets only the explanation, as a
non-loopback bind would (Streamlit's real request headers, read through st.context)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.db import dispose_engine
from core.settings import Settings
from tests.auth.test_identity_and_exposure import PROXY_HEADER_SAMPLES
from tests.browser.harness import app_folder, chromium_browser, dashboard, dashboard_env, free_port, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real Chromium: seconds each


def test_a_forwarded_request_to_a_loopback_local_mode_dashboard_is_refused(settings: Settings, tmp_path: Path) -> None:
    chromium = require_chromium()
    from playwright.sync_api import expect

    env = dashboard_env(
        settings,
        AUTH_MODE="",
        START_WORKER="false",
        HOME=str(tmp_path / "home"),  # no ~/.streamlit/secrets.toml of this machine
    )
    try:
        with (
            dashboard(free_port(), env, tmp_path / "st.log", cwd=app_folder(tmp_path / "app")) as url,
            chromium_browser(chromium) as browser,
        ):
            direct = browser.new_context().new_page()
            direct.goto(url, wait_until="domcontentloaded")
            expect(direct.get_by_text("Local mode: you are the local user")).to_be_visible(timeout=60_000)

            # Each common proxy header alone is enough (nginx setups often send only X-Real-IP, say). Chromium
            # will not send `Via` (a forbidden request header): the unit and API tests cover that one.
            for header, value in PROXY_HEADER_SAMPLES.items():
                if header == "Via":
                    continue
                context = browser.new_context(extra_http_headers={header: value})
                proxied = context.new_page()
                proxied.goto(url, wait_until="domcontentloaded")
                expect(proxied.get_by_text("through a reverse proxy")).to_be_visible(timeout=60_000)
                expect(proxied.get_by_text("needs team mode")).to_be_visible()
                assert proxied.get_by_text("Local mode: you are the local user").count() == 0, header
                assert proxied.get_by_role("link", name="Data").count() == 0, header
                context.close()
    finally:
        dispose_engine(settings.resolved_database_url)
