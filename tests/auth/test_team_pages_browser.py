"""Team mode in headless Chromium against the real mock OIDC provider, as an attacker and a newcomer see it:

- the very first visit after a start lists no page in the sidebar at any moment before sign-in (a MutationObserver
  records every link the sidebar ever shows, from the first paint on);
- signing in with `sub=admin@example.org` and no `email` claim is refused with a clear message, not made admin;
- a deep link (`/Data`) is where a user lands after signing in, not `/`;
- a signed-in viewer who opens `/Users` is told it is for admins only (no silent redirect to Home);
- the API keys page is listed for a viewer, and creating a key shows it once."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.auth.users import list_users
from core.db import dispose_engine
from core.settings import Settings
from core.store import Store
from tests.browser.harness import chromium_browser, dashboard_env, require_chromium
from tests.browser.team import authorize, oidc_provider, provider_user, team_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real Chromium: seconds each

ADMIN = "admin@example.org"  # in ADMIN_EMAILS; the attacker signs in with it as `sub`, without an email claim
VIEWER = "vera@example.org"

# Records the text of every link that ever appears in the sidebar, however briefly.
SIDEBAR_WATCH = """
window.__sidebarLinks = [];
new MutationObserver(() => {
  for (const a of document.querySelectorAll('[data-testid="stSidebar"] a, [data-testid="stSidebarNav"] a')) {
    const text = (a.textContent || '').trim();
    if (text && !window.__sidebarLinks.includes(text)) window.__sidebarLinks.push(text);
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


def test_first_paint_claims_deep_links_and_roles(settings: Settings, tmp_path: Path) -> None:
    chromium = require_chromium()
    from playwright.sync_api import expect

    store = Store(settings)
    env = dashboard_env(settings, AUTH_MODE="", START_WORKER="false", ADMIN_EMAILS=ADMIN, HOME=str(tmp_path / "home"))
    try:
        with oidc_provider() as issuer:
            provider_user(issuer, ADMIN, email=None)  # the provider sends no email claim for this subject
            provider_user(issuer, VIEWER)
            with team_dashboard(env, tmp_path, issuer) as url, chromium_browser(chromium) as browser:
                # The first visit after the start: no page is ever listed before sign-in.
                first = browser.new_context()
                first.add_init_script(SIDEBAR_WATCH)
                anon = first.new_page()
                anon.goto(url + "/Users", wait_until="commit")
                expect(anon.get_by_role("button", name="Sign in")).to_be_visible(timeout=90_000)
                anon.wait_for_timeout(500)
                assert anon.evaluate("window.__sidebarLinks") == []
                assert urlsplit(anon.url).path == "/Users"  # the address is kept, its page is not shown
                first.close()

                # `sub` shaped like an admin's address, no email claim: refused, and never made a user.
                attacker = browser.new_context().new_page()
                attacker.goto(url, wait_until="domcontentloaded")
                authorize(attacker, url, issuer, ADMIN)
                expect(attacker.get_by_text("did not send an e-mail address")).to_be_visible(timeout=60_000)
                assert attacker.get_by_text(f"{ADMIN} ·").count() == 0
                assert attacker.get_by_role("link", name="Users").count() == 0

                # A deep link survives sign-in; a page the role may not open says which role it needs.
                context = browser.new_context()
                context.add_init_script(SIDEBAR_WATCH)
                viewer = context.new_page()
                viewer.goto(url + "/Data", wait_until="domcontentloaded")
                authorize(viewer, url, issuer, VIEWER)
                viewer.wait_for_url(f"{url}/Data", timeout=60_000)
                expect(viewer.get_by_text("Importing images needs the trainer role")).to_be_visible(timeout=60_000)
                expect(viewer.get_by_text(f"{VIEWER} · viewer")).to_be_visible()
                links = viewer.evaluate("window.__sidebarLinks")
                assert any(t.endswith("API keys") for t in links) and not any(t.endswith("Users") for t in links)
                viewer.goto(url + "/Users", wait_until="domcontentloaded")
                expect(viewer.get_by_text("Admins only")).to_be_visible(timeout=60_000)
                assert urlsplit(viewer.url).path == "/Users"
                assert viewer.get_by_role("button", name="Add").count() == 0

                # API keys without the CLI: the key is shown once.
                viewer.goto(url + "/API_keys", wait_until="domcontentloaded")
                viewer.get_by_role("button", name="Create key").click(timeout=60_000)
                expect(viewer.get_by_text("shown only this once")).to_be_visible(timeout=60_000)
                expect(viewer.locator("code", has_text="esk_")).to_be_visible()
    finally:
        dispose_engine(settings.resolved_database_url)
    people = {u.email for u in list_users(store.engine)}
    assert ADMIN not in people and VIEWER in people
