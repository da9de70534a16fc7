"""Who a sign-in makes you (an e-mail the provider marks unverified is refused), and when a local-mode dashboard counts
as exposed: a non-loopback bind, a request forwarded by a reverse proxy, or a Streamlit [auth] that Settings misses."""

from __future__ import annotations

import pytest

from core.auth import PermissionDenied
from core.auth.claims import identity_from_claims
from core.auth.hosting import hosting_problem, via_proxy
from core.settings import Settings


def test_the_email_is_the_identity_unless_the_provider_says_it_is_unverified() -> None:
    assert identity_from_claims({"email": "a@example.org", "sub": "123"}) == "a@example.org"
    assert identity_from_claims({"email": "a@example.org", "email_verified": True, "sub": "1"}) == "a@example.org"
    assert identity_from_claims({"sub": "123", "email": None}) == "123"
    assert identity_from_claims({}) is None
    for unverified in (False, "false", "False"):
        with pytest.raises(PermissionDenied, match=r"a@example\.org is not verified"):
            identity_from_claims({"email": "a@example.org", "email_verified": unverified, "sub": "123"})


def test_forwarding_headers_mean_exposed_unless_local_mode_is_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_MODE", raising=False)
    plain = Settings(_env_file=None, oidc_configured=False)  # type: ignore[call-arg]
    assert not plain.team_mode
    assert hosting_problem(plain, "127.0.0.1", headers={"Host": "127.0.0.1:8501", "User-Agent": "x"}) is None
    for name in ("X-Forwarded-For", "x-forwarded-for", "Forwarded", "X-Forwarded-Host"):
        assert via_proxy({name: "203.0.113.9"})
        problem = hosting_problem(plain, "127.0.0.1", headers={name: "203.0.113.9"})
        assert problem is not None and "reverse proxy" in problem and "AUTH_MODE=local" in problem
    assert not via_proxy({}) and not via_proxy(None)
    explicit = Settings(_env_file=None, auth_mode="local", oidc_configured=False)  # type: ignore[call-arg]
    assert hosting_problem(explicit, "127.0.0.1", headers={"X-Forwarded-For": "203.0.113.9"}) is None
    team = Settings(_env_file=None, oidc_configured=True)  # type: ignore[call-arg]
    assert hosting_problem(team, "0.0.0.0", headers={"X-Forwarded-For": "203.0.113.9"}) is None


def test_a_streamlit_auth_section_settings_do_not_see_is_never_local_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_MODE", raising=False)
    plain = Settings(_env_file=None, oidc_configured=False)  # type: ignore[call-arg]
    problem = hosting_problem(plain, "127.0.0.1", streamlit_auth=True)
    assert problem is not None and "AUTH_MODE=team" in problem
    # Told explicitly, the dashboard runs in team mode with Streamlit's provider.
    team = Settings(_env_file=None, auth_mode="team", oidc_configured=False)  # type: ignore[call-arg]
    assert hosting_problem(team, "0.0.0.0", streamlit_auth=True) is None
    assert "no sign-in provider" in str(hosting_problem(team, "127.0.0.1", streamlit_auth=False))


def test_nobody_signs_in_as_a_builtin_identity() -> None:
    # Jobs and server-path rules recognise the CLI operator and the local user by id.
    for reserved in ("operator (cli)", "local user"):
        with pytest.raises(PermissionDenied, match="reserved"):
            identity_from_claims({"sub": reserved})
