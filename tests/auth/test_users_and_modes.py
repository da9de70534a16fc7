"""The users table (bootstrap admins, default role, allowed domains, management, the CLI) on SQLite and PostgreSQL,
and when the dashboard may run in local mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.auth import OPERATOR, PermissionDenied, Role, User, acting_as
from core.auth.hosting import hosting_problem, is_loopback
from core.auth.users import add_user, list_users, remove_user, set_role, sign_in
from core.cli import main
from core.errors import StudioError
from core.migrations import open_database
from core.settings import Settings


def _directory(settings: Settings) -> None:
    engine = open_database(settings.resolved_database_url)
    team = settings.model_copy(
        update={
            "admin_emails": ["Boss@Corp.example"],
            "default_role": "labeler",
            "allowed_email_domains": ["corp.example"],
        }
    )
    assert sign_in(engine, team, "boss@corp.example") == User("boss@corp.example", Role.ADMIN)
    assert sign_in(engine, team, "Newbie@corp.example").role == Role.LABELER
    with pytest.raises(PermissionDenied, match="may not sign in"):
        sign_in(engine, team, "mallory@evil.example")
    people = {u.email: u for u in list_users(engine)}
    assert set(people) == {"boss@corp.example", "newbie@corp.example"}
    assert people["newbie@corp.example"].last_sign_in is not None

    with acting_as(User("newbie@corp.example", Role.LABELER)), pytest.raises(PermissionDenied):
        set_role(engine, "newbie@corp.example", Role.ADMIN)
    with acting_as(User("boss@corp.example", Role.ADMIN)):
        set_role(engine, "newbie@corp.example", Role.TRAINER)
        add_user(engine, "later@corp.example", Role.VIEWER)
        with pytest.raises(StudioError, match="last admin"):
            set_role(engine, "boss@corp.example", Role.VIEWER)
    # A stored role survives the next sign-in; ADMIN_EMAILS always wins.
    assert sign_in(engine, team, "newbie@corp.example").role == Role.TRAINER
    with acting_as(OPERATOR):
        set_role(engine, "boss@corp.example", Role.VIEWER)
        remove_user(engine, "later@corp.example")
    assert sign_in(engine, team, "boss@corp.example").role == Role.ADMIN
    assert "later@corp.example" not in {u.email for u in list_users(engine)}


def test_users_on_sqlite(settings: Settings) -> None:
    _directory(settings)


@pytest.mark.postgres
def test_users_on_postgresql(pg_settings: Settings) -> None:
    _directory(pg_settings)


def test_users_cli(app_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "add", "Ann@Example.org", "--role", "trainer"]) == 0
    assert main(["users", "set-role", "ann@example.org", "admin"]) == 0
    assert main(["users", "add", "ann@example.org"]) == 2  # exists: a clear error, no traceback
    assert main(["users", "list"]) == 0
    out = capsys.readouterr()
    assert "ann@example.org" in out.out and "admin" in out.out and "already exists" in out.err
    assert main(["users", "remove", "ann@example.org"]) == 0
    assert main(["users", "remove", "ann@example.org"]) == 2


def test_team_mode_follows_the_auth_section_and_exposed_local_mode_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTH_MODE", raising=False)
    plain = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not plain.team_mode
    assert hosting_problem(plain, "127.0.0.1") is None and hosting_problem(plain, "localhost") is None
    for exposed in ("0.0.0.0", "", None, "192.168.1.5", "::"):
        assert "AUTH_MODE=local" in str(hosting_problem(plain, exposed))
    explicit = Settings(_env_file=None, auth_mode="local")  # type: ignore[call-arg]
    assert hosting_problem(explicit, "0.0.0.0") is None and not explicit.team_mode
    team_without_provider = Settings(_env_file=None, auth_mode="team")  # type: ignore[call-arg]
    assert "no sign-in provider" in str(hosting_problem(team_without_provider, "127.0.0.1"))

    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[auth]\nredirect_uri = "http://h/oauth2callback"\ncookie_secret = "s"\nclient_id = "c"\n'
    )
    monkeypatch.chdir(tmp_path)
    configured = Settings(_env_file=None)  # type: ignore[call-arg]
    assert configured.oidc_configured and configured.team_mode
    assert hosting_problem(configured, "0.0.0.0") is None
    assert is_loopback("127.0.0.2") and is_loopback("[::1]") and not is_loopback("10.0.0.1")
