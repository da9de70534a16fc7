"""Team mode end to end, in headless Chromium against a real OIDC provider on loopback (oidc-provider-mock) and
Streamlit's own st.login: an anonymous visitor sees only the sign-in screen; a viewer sees no import, approve or
delete controls; a labeler's approval is recorded under their e-mail; sign-out returns to the sign-in screen; an
address in ADMIN_EMAILS that the provider marks unverified is refused.

The provider is the one `.ci/run` starts as a service (STUDIO_TEST_OIDC_ISSUER), else one started here in a thread."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import pytest

from core.active import approval
from core.active.queue import queue_items
from core.auth import OPERATOR, Role, acting_as
from core.auth.users import add_user, list_users
from core.db import dispose_engine
from core.settings import Settings
from core.store import Store
from tests.active.test_page import _setup
from tests.browser.harness import ROOT, free_port, require_chromium, server, streamlit_cmd

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real Chromium: seconds each

VIEWER, LABELER = "vera@example.org", "lena@example.org"
UNVERIFIED = "mallory@example.org"  # listed in ADMIN_EMAILS, but the provider has not verified the address
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


def _provider_user(issuer: str, sub: str, **claims: object) -> None:
    """Tell the provider who `sub` is (its `PUT /users/{sub}`): the claims the dashboard then reads."""
    request = urllib.request.Request(
        f"{issuer}/users/{quote(sub)}",
        data=json.dumps({"email": sub, **claims}).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def _secrets(folder: Path, port: int, issuer: str) -> Path:
    """A working directory whose .streamlit/secrets.toml configures [auth]: that alone turns team mode on."""
    (folder / ".streamlit").mkdir(parents=True)
    (folder / ".streamlit" / "config.toml").write_text((ROOT / ".streamlit" / "config.toml").read_text())
    (folder / ".streamlit" / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-long-random-secret-for-the-test-only"\n'
        'client_id = "studio"\n'
        'client_secret = "studio-secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
    )
    return folder


def _wait_audit(store: Store, timeout_s: float = 30) -> list[approval.AuditEntry]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        entries = approval.audit_log(store)
        if entries:
            return entries
        time.sleep(0.3)
    raise AssertionError("no decision was recorded")


def test_anonymous_viewer_and_labeler_in_team_mode(
    settings: Settings, tmp_path: Path, face_variants: list[np.ndarray]
) -> None:
    chromium = require_chromium()
    from playwright.sync_api import Page, expect, sync_playwright

    store = _setup(settings, face_variants)
    first = queue_items(store)[0]
    with acting_as(OPERATOR):
        add_user(store.engine, LABELER, Role.LABELER)  # the viewer is not added: DEFAULT_ROLE (viewer) applies
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "DATA_ROOT": str(settings.data_root),
        "MODELS_DIR": str(settings.models_dir),
        "DATABASE_URL": "",
        "GEMINI_API_KEY": "",
        "EXTRACT_WORKERS": "1",
        "AUTH_MODE": "",
        "ADMIN_EMAILS": UNVERIFIED,
    }

    def sign_in(page: Page, who: str, issuer: str, *, accepted: bool = True) -> None:
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_role("button", name="Sign in").click(timeout=60_000)
        page.wait_for_url(f"**:{urlsplit(issuer).port}/**", timeout=30_000)
        page.fill("input[name=sub]", who)
        page.get_by_role("button", name="Authorize").click()
        page.wait_for_url(f"{url}/**", timeout=30_000)
        if accepted:
            expect(page.get_by_text(f"{who} ·")).to_be_visible(timeout=60_000)

    try:
        with oidc_provider() as issuer, sync_playwright() as p:
            for who in (VIEWER, LABELER):
                _provider_user(issuer, who)
            _provider_user(issuer, UNVERIFIED, email_verified=False)
            cwd = _secrets(tmp_path / "app", port, issuer)
            with server(
                streamlit_cmd(ROOT / "streamlit_app.py", port),
                f"{url}/_stcore/health",
                env,
                tmp_path / "st.log",
                cwd=cwd,
            ):
                browser = p.chromium.launch(
                    executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
                )
                try:
                    # Anonymous: the sign-in screen and nothing else, on the home page and on a page's own URL.
                    anon = browser.new_context().new_page()
                    for path in ("", "/Active_Learning"):
                        anon.goto(url + path, wait_until="domcontentloaded")
                        expect(anon.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
                        expect(anon.get_by_text("sign in to continue")).to_be_visible()
                        assert anon.get_by_role("link", name="Data").count() == 0
                        assert anon.get_by_text(f"Image #{first.image_id}").count() == 0

                    # An unverified address is refused, even one in ADMIN_EMAILS: a message and a sign-out button.
                    unverified = browser.new_context().new_page()
                    sign_in(unverified, UNVERIFIED, issuer, accepted=False)
                    expect(unverified.get_by_text(f"{UNVERIFIED} is not verified")).to_be_visible(timeout=60_000)
                    expect(unverified.get_by_role("button", name="Sign out")).to_be_visible()
                    assert unverified.get_by_text(f"{UNVERIFIED} ·").count() == 0
                    assert unverified.get_by_role("link", name="Data").count() == 0

                    # A viewer: reads, but has no import, approve or delete controls.
                    viewer = browser.new_context().new_page()
                    sign_in(viewer, VIEWER, issuer)
                    expect(viewer.get_by_text(f"{VIEWER} · viewer")).to_be_visible()
                    viewer.goto(f"{url}/Data", wait_until="domcontentloaded")
                    expect(viewer.get_by_text("Importing images needs the trainer role")).to_be_visible(timeout=60_000)
                    assert viewer.get_by_role("button", name="Import").count() == 0
                    assert viewer.get_by_role("tab", name="Upload").count() == 0
                    viewer.goto(f"{url}/Active_Learning", wait_until="domcontentloaded")
                    expect(viewer.get_by_text("Reviewing the queue needs the labeler role")).to_be_visible(
                        timeout=60_000
                    )
                    assert viewer.get_by_role("button", name="Approve").count() == 0
                    viewer.goto(f"{url}/Train", wait_until="domcontentloaded")
                    viewer.get_by_role("tab", name="Models", exact=True).click(timeout=90_000)
                    expect(viewer.get_by_text("Activating models needs the trainer role")).to_be_visible(timeout=60_000)
                    assert viewer.get_by_role("button", name="Delete").count() == 0
                    assert viewer.get_by_role("link", name="Users").count() == 0  # the admin page is not listed

                    # A labeler: approves, and the decision is recorded under their e-mail.
                    labeler = browser.new_context().new_page()
                    sign_in(labeler, LABELER, issuer)
                    labeler.goto(f"{url}/Active_Learning", wait_until="domcontentloaded")
                    expect(labeler.get_by_text(f"Decisions are recorded as {LABELER}")).to_be_visible(timeout=60_000)
                    labeler.get_by_role("button", name="Approve").click()
                    [entry] = _wait_audit(store)
                    assert entry.actor == LABELER and entry.action == "approve" and entry.image_id == first.image_id
                    record = store.get(first.image_id)
                    assert record is not None and record.status == "train"

                    # Sign-out ends the session: back to the sign-in screen.
                    # (Streamlit forgets the identity cookie, then sends the browser to the provider's end-session
                    # page, where the provider's own session ends too.)
                    labeler.get_by_role("button", name="Sign out").click()
                    labeler.wait_for_url(lambda u: f":{port}/" not in u or "oauth2callback" in u, timeout=30_000)
                    if labeler.get_by_role("button", name="End session").count():
                        labeler.get_by_role("button", name="End session").click()
                    labeler.goto(url, wait_until="domcontentloaded")
                    expect(labeler.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
                    assert labeler.get_by_text(f"{LABELER} ·").count() == 0
                finally:
                    browser.close()
    finally:
        dispose_engine(settings.resolved_database_url)
    people = {u.email: u for u in list_users(store.engine)}
    assert UNVERIFIED not in people  # never signed in, so never made an admin
    assert people[VIEWER].role == Role.VIEWER and people[VIEWER].last_sign_in is not None
    assert people[LABELER].role == Role.LABELER and people[LABELER].last_sign_in is not None
