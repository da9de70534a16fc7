"""Fixtures of the role tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from core.auth import User
from core.auth.identity import set_current_user
from core.settings import Settings, get_settings


@pytest.fixture
def signed_in(app_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[User], None]]:
    """Make every page run as the given user (AppTest has no st.user, so the sign-in itself is the browser test's)."""
    monkeypatch.setenv("START_WORKER", "false")
    get_settings.cache_clear()
    who: list[User] = []

    def as_user(sidebar: bool = True) -> User:
        set_current_user(who[-1])
        return who[-1]

    monkeypatch.setattr("ui.auth.signed_in_user", as_user)
    yield who.append
    get_settings.cache_clear()
