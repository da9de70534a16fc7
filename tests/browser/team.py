"""Team-mode browser test support: a real OIDC provider on loopback (oidc-provider-mock), a dashboard whose
.streamlit/secrets.toml points Streamlit's st.login at it, and signing in through the provider's form.

The provider is the one `.ci/run` starts as a service (STUDIO_TEST_OIDC_ISSUER), else one started here in a thread."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import pytest

from tests.browser.harness import app_folder, dashboard, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Page

ISSUER_ENV = "STUDIO_TEST_OIDC_ISSUER"


@contextlib.contextmanager
def oidc_provider() -> Iterator[str]:
    """The issuer URL of a running oidc-provider-mock: the service .ci/run started (STUDIO_TEST_OIDC_ISSUER), else
    one in a thread of this process. In CI the service must be there and answer: no silent fallback."""
    issuer = os.environ.get(ISSUER_ENV, "").rstrip("/")
    if issuer:
        try:
            with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=10) as response:
                assert json.loads(response.read())["authorization_endpoint"]
        except Exception as exc:
            pytest.fail(f"the OIDC provider at {ISSUER_ENV}={issuer} does not answer: {exc}")
        yield issuer
        return
    if os.environ.get("CI"):
        pytest.fail(f"{ISSUER_ENV} is not set in CI: .ci/run must start the OIDC provider")
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as provider:
        yield f"http://localhost:{provider.server_port}"


def provider_user(issuer: str, sub: str, **claims: object) -> None:
    """Tell the provider who `sub` is (its `PUT /users/{sub}`): the claims the dashboard then reads."""
    request = urllib.request.Request(
        f"{issuer}/users/{quote(sub)}",
        data=json.dumps({"email": sub, **claims}).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def team_secrets(folder: Path, port: int, issuer: str) -> Path:
    """A working directory whose .streamlit/secrets.toml configures [auth]: that alone turns team mode on."""
    (app_folder(folder) / ".streamlit" / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-long-random-secret-for-the-test-only"\n'
        'client_id = "studio"\n'
        'client_secret = "studio-secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
    )
    return folder


@contextlib.contextmanager
def team_dashboard(env: dict[str, str], tmp_path: Path, issuer: str) -> Iterator[str]:
    """The dashboard in team mode (signing in at `issuer`) until the block ends; yields its URL."""
    port = free_port()
    cwd = team_secrets(tmp_path / "app", port, issuer)
    with dashboard(port, env, tmp_path / "st.log", cwd=cwd) as url:
        yield url


def authorize(page: Page, url: str, issuer: str, sub: str) -> None:
    """From the dashboard's sign-in screen: sign in at the provider as `sub` and come back to the dashboard."""
    page.get_by_role("button", name="Sign in").click(timeout=60_000)
    page.wait_for_url(f"**:{urlsplit(issuer).port}/**", timeout=30_000)
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{url}/**", timeout=30_000)
