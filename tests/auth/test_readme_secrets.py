"""The README's secrets.toml example for team hosting, written as a project's secrets file, configures what it says:
team mode, the bootstrap admins, the default role and the allowed domains (keys placed under `[auth]` would be lost)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.settings import Settings
from tests.browser.harness import ROOT


def _readme_example() -> str:
    blocks = re.findall(r"```toml\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    [example] = [b for b in blocks if "[auth]" in b and "ADMIN_EMAILS" in b]
    return example


def test_the_readme_secrets_example_sets_roles_and_team_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AUTH_MODE", "ADMIN_EMAILS", "DEFAULT_ROLE", "ALLOWED_EMAIL_DOMAINS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.streamlit/secrets.toml of the machine running this
    project = tmp_path / "project"
    (project / ".streamlit").mkdir(parents=True)
    (project / ".streamlit" / "secrets.toml").write_text(_readme_example().replace('"viewer"', '"labeler"'))
    monkeypatch.chdir(project)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.team_mode and settings.oidc_configured
    assert settings.admin_emails == ["you@example.org"]
    assert settings.default_role == "labeler"  # read from the file, not the default
    assert settings.allowed_email_domains == ["example.org"]


def test_settings_read_the_users_secrets_file_like_streamlit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AUTH_MODE", "ADMIN_EMAILS"):
        monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    (home / ".streamlit").mkdir(parents=True)
    (home / ".streamlit" / "secrets.toml").write_text(
        'ADMIN_EMAILS = ["home@example.org"]\n[auth]\nredirect_uri = "http://h/oauth2callback"\n'
    )
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    (work / ".streamlit").mkdir(parents=True)
    monkeypatch.chdir(work)
    # [auth] only in ~/.streamlit/secrets.toml: Streamlit signs people in, so Settings must be in team mode too.
    from_home = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_home.team_mode and from_home.admin_emails == ["home@example.org"]
    # The working directory's file overrides the user's, key by key, as Streamlit merges them.
    (work / ".streamlit" / "secrets.toml").write_text('ADMIN_EMAILS = ["work@example.org"]\n')
    both = Settings(_env_file=None)  # type: ignore[call-arg]
    assert both.admin_emails == ["work@example.org"] and both.team_mode


def test_role_lists_from_the_environment_may_be_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the README's configuration table says (a plain address used to crash every page with a JSON error)."""
    monkeypatch.setenv("ADMIN_EMAILS", "a@example.org, b@example.org")
    monkeypatch.setenv("ALLOWED_EMAIL_DOMAINS", '["example.org"]')
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.admin_emails == ["a@example.org", "b@example.org"]
    assert settings.allowed_email_domains == ["example.org"]
