"""The API keys page under AppTest: a viewer creates a key of their own (shown once), sees only their keys and
revokes one; an admin sees everyone's and revokes someone else's. core.apikeys enforces the same (tests/api)."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from core.apikeys import ApiKeys
from core.auth import OPERATOR, Role, User, acting_as
from core.auth.users import add_user
from core.migrations import open_database
from core.settings import get_settings
from tests.browser.harness import ROOT

PAGE = str(ROOT / "pages" / "10_API_keys.py")
VIEWER = User("vera@example.org", Role.VIEWER)
ADMIN = User("ada@example.org", Role.ADMIN)


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def test_own_keys_for_everyone_and_everyone_s_for_admins(signed_in: Callable[[User], None]) -> None:
    settings = get_settings()
    engine = open_database(settings.resolved_database_url)
    with acting_as(OPERATOR):
        for person in (VIEWER, ADMIN):
            add_user(engine, person.id, person.role)
        other = ApiKeys(settings).create(ADMIN.id, "admin's own")

    signed_in(VIEWER)
    at = _page()
    assert "No API keys yet" in at.info[0].value
    at.text_input(key="apikeys_name").input("my script")
    at.button(key="apikeys_create").click().run()
    [shown] = [c.value for c in at.code]
    assert shown.startswith("esk_") and ApiKeys(settings).verify(shown) is not None
    assert "shown only this once" in at.success[0].value
    table = at.dataframe[0].value
    assert list(table["name"]) == ["my script"] and "user" not in table.columns  # only their own, no owner column
    at.run()  # any later run: the key is not shown again
    assert not at.code

    at.selectbox(key="apikeys_revoke_pick").select_index(0)
    at.button(key="apikeys_revoke").click().run()
    assert ApiKeys(settings).verify(shown) is None
    assert "is revoked" in at.success[0].value
    assert str(at.dataframe[0].value["state"].iloc[0]).startswith("revoked")

    signed_in(ADMIN)
    at = _page()
    table = at.dataframe[0].value
    assert set(table["user"]) == {VIEWER.id, ADMIN.id}  # everyone's keys
    picks = at.selectbox(key="apikeys_revoke_pick").options
    assert picks == [f"{other.info.key_id} · admin's own · {ADMIN.id}"]  # the viewer's key is revoked already
    assert {ADMIN.id, VIEWER.id} <= set(at.selectbox(key="apikeys_owner").options)
    at.selectbox(key="apikeys_owner").set_value(VIEWER.id)
    at.button(key="apikeys_create").click().run()
    assert ApiKeys(settings).list_keys(VIEWER.id)[-1].active  # made for the viewer by the admin
