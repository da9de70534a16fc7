"""Team mode end to end, in headless Chromium against a real OIDC provider on loopback (oidc-provider-mock) and
Streamlit's own st.login: an anonymous visitor sees only the sign-in screen; a viewer sees no import, approve or
delete controls; a labeler's approval is recorded under their e-mail; sign-out returns to the sign-in screen; an
address in ADMIN_EMAILS that the provider marks unverified is refused (the provider: tests/browser/team.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np
import pytest

from core.active_learning import approval
from core.active_learning.review_queue import QueueItem, queue_items
from core.auth import OPERATOR, Role, acting_as
from core.auth.users import add_user, list_users
from core.db import dispose_engine
from core.settings import Settings
from core.store import Store
from tests.active_learning.test_page import _setup
from tests.browser.harness import chromium_browser, dashboard_env, require_chromium
from tests.browser.team import authorize, oidc_provider, provider_user, team_dashboard

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real Chromium: seconds each

VIEWER, LABELER = "vera@example.org", "lena@example.org"
UNVERIFIED = "mallory@example.org"  # listed in ADMIN_EMAILS, but the provider has not verified the address


def _wait_audit(store: Store, timeout_s: float = 30) -> list[approval.AuditEntry]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        entries = approval.audit_log(store)
        if entries:
            return entries
        time.sleep(0.3)
    raise AssertionError("no decision was recorded")


def _sign_in(page: Page, url: str, who: str, issuer: str, *, accepted: bool = True) -> None:
    from playwright.sync_api import expect

    page.goto(url, wait_until="domcontentloaded")
    authorize(page, url, issuer, who)
    if accepted:
        expect(page.get_by_text(f"{who} ·")).to_be_visible(timeout=60_000)


def _check_anonymous(browser: Browser, url: str, first: QueueItem) -> None:
    """Anonymous: the sign-in screen and nothing else, on the home page and on a page's own URL."""
    from playwright.sync_api import expect

    anon = browser.new_context().new_page()
    for path in ("", "/Active_Learning"):
        anon.goto(url + path, wait_until="domcontentloaded")
        expect(anon.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
        expect(anon.get_by_text("sign in to continue")).to_be_visible()
        assert anon.get_by_role("link", name="Data").count() == 0
        assert anon.get_by_text(f"Image #{first.image_id}").count() == 0


def _check_unverified(browser: Browser, url: str, issuer: str) -> None:
    """An unverified address is refused, even one in ADMIN_EMAILS: a message and a sign-out button."""
    from playwright.sync_api import expect

    unverified = browser.new_context().new_page()
    _sign_in(unverified, url, UNVERIFIED, issuer, accepted=False)
    expect(unverified.get_by_text(f"{UNVERIFIED} is not verified")).to_be_visible(timeout=60_000)
    expect(unverified.get_by_role("button", name="Sign out")).to_be_visible()
    assert unverified.get_by_text(f"{UNVERIFIED} ·").count() == 0
    assert unverified.get_by_role("link", name="Data").count() == 0


def _check_viewer(browser: Browser, url: str, issuer: str) -> None:
    """A viewer: reads, but has no import, approve or delete controls."""
    from playwright.sync_api import expect

    viewer = browser.new_context().new_page()
    _sign_in(viewer, url, VIEWER, issuer)
    expect(viewer.get_by_text(f"{VIEWER} · viewer")).to_be_visible()
    viewer.goto(f"{url}/Data", wait_until="domcontentloaded")
    expect(viewer.get_by_text("Importing images needs the trainer role")).to_be_visible(timeout=60_000)
    assert viewer.get_by_role("button", name="Import").count() == 0
    assert viewer.get_by_role("tab", name="Upload").count() == 0
    viewer.goto(f"{url}/Active_Learning", wait_until="domcontentloaded")
    expect(viewer.get_by_text("Reviewing the queue needs the labeler role")).to_be_visible(timeout=60_000)
    assert viewer.get_by_role("button", name="Approve").count() == 0
    viewer.goto(f"{url}/Train", wait_until="domcontentloaded")
    viewer.get_by_role("tab", name="Models", exact=True).click(timeout=90_000)
    expect(viewer.get_by_text("Activating models needs the trainer role")).to_be_visible(timeout=60_000)
    assert viewer.get_by_role("button", name="Delete").count() == 0
    assert viewer.get_by_role("link", name="Users").count() == 0  # the admin page is not listed


def _check_labeler_then_sign_out(browser: Browser, url: str, issuer: str, store: Store, first: QueueItem) -> None:
    """A labeler: approves, and the decision is recorded under their e-mail; then sign-out ends the session."""
    from playwright.sync_api import expect

    labeler = browser.new_context().new_page()
    _sign_in(labeler, url, LABELER, issuer)
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
    port = urlsplit(url).port
    labeler.get_by_role("button", name="Sign out").click()
    labeler.wait_for_url(lambda u: f":{port}/" not in u or "oauth2callback" in u, timeout=30_000)
    if labeler.get_by_role("button", name="End session").count():
        labeler.get_by_role("button", name="End session").click()
    labeler.goto(url, wait_until="domcontentloaded")
    expect(labeler.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
    assert labeler.get_by_text(f"{LABELER} ·").count() == 0


def test_anonymous_viewer_and_labeler_in_team_mode(
    settings: Settings, tmp_path: Path, face_variants: list[np.ndarray]
) -> None:
    chromium = require_chromium()
    store = _setup(settings, face_variants)
    first = queue_items(store)[0]
    with acting_as(OPERATOR):
        add_user(store.engine, LABELER, Role.LABELER)  # the viewer is not added: DEFAULT_ROLE (viewer) applies
    env = dashboard_env(settings, EXTRACT_WORKERS="1", AUTH_MODE="", ADMIN_EMAILS=UNVERIFIED)
    try:
        with oidc_provider() as issuer:
            for who in (VIEWER, LABELER):
                provider_user(issuer, who)
            provider_user(issuer, UNVERIFIED, email_verified=False)
            with team_dashboard(env, tmp_path, issuer) as url, chromium_browser(chromium) as browser:
                _check_anonymous(browser, url, first)
                _check_unverified(browser, url, issuer)
                _check_viewer(browser, url, issuer)
                _check_labeler_then_sign_out(browser, url, issuer, store, first)
    finally:
        dispose_engine(settings.resolved_database_url)
    people = {u.email: u for u in list_users(store.engine)}
    assert UNVERIFIED not in people  # never signed in, so never made an admin
    assert people[VIEWER].role == Role.VIEWER and people[VIEWER].last_sign_in is not None
    assert people[LABELER].role == Role.LABELER and people[LABELER].last_sign_in is not None
