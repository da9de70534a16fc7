"""The dashboard's entry point in each mode, under AppTest: local mode opens with no set-up and says who you are;
an exposed local-mode server and team mode without a provider show only an explanation, with no pages listed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from core.settings import Settings, get_settings
from tests.browser.harness import ROOT

APP = str(ROOT / "streamlit_app.py")


@pytest.fixture
def bind_address() -> Iterator[None]:
    before = config.get_option("server.address")
    yield
    config.set_option("server.address", before)


def test_local_mode_opens_and_names_the_local_user(app_env: Settings) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("Local mode: you are the local user (admin)" in c.value for c in at.sidebar.caption)
    assert at.title[0].value == "Expression Studio"


def test_exposed_local_mode_and_team_mode_without_a_provider_show_only_an_explanation(
    app_env: Settings, monkeypatch: pytest.MonkeyPatch, bind_address: None
) -> None:
    config.set_option("server.address", "0.0.0.0")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and "AUTH_MODE=local" in at.error[0].value
    assert not at.title and not at.metric  # nothing of the dashboard itself

    monkeypatch.setenv("AUTH_MODE", "local")
    get_settings.cache_clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and not at.error and at.title[0].value == "Expression Studio"

    config.set_option("server.address", "127.0.0.1")
    monkeypatch.setenv("AUTH_MODE", "team")
    get_settings.cache_clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and "no sign-in provider" in at.error[0].value
    assert not at.title and not at.metric


def test_a_request_through_a_reverse_proxy_is_exposed(
    app_env: Settings, monkeypatch: pytest.MonkeyPatch, bind_address: None
) -> None:
    """Loopback bind, but the request came through a proxy: the dashboard reads the request's headers and refuses."""
    config.set_option("server.address", "127.0.0.1")
    monkeypatch.setattr("ui.auth._request_headers", lambda: {"X-Forwarded-For": "203.0.113.9"})
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and "reverse proxy" in at.error[0].value
    assert not at.title and not at.metric
    monkeypatch.setattr("ui.auth._request_headers", dict)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and not at.error and at.title[0].value == "Expression Studio"
