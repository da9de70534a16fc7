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
    # `sub` is never an identity, however much it looks like an address.
    for claims in ({"sub": "admin@example.org", "email": None}, {"sub": "admin@example.org"}, {}):
        with pytest.raises(PermissionDenied, match="did not send an e-mail address"):
            identity_from_claims(claims)
    for unverified in (False, "false", "False"):
        with pytest.raises(PermissionDenied, match=r"a@example\.org is not verified"):
            identity_from_claims({"email": "a@example.org", "email_verified": unverified, "sub": "123"})


def test_another_verified_claim_only_when_the_operator_maps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    claims = {"sub": "x1", "upn": "ann@example.org"}
    with pytest.raises(PermissionDenied):
        identity_from_claims(claims)
    assert identity_from_claims(claims, "upn") == "ann@example.org"
    assert identity_from_claims({**claims, "email": "b@example.org"}, "upn") == "b@example.org"  # email first
    monkeypatch.setenv("IDENTITY_CLAIM", "sub")
    with pytest.raises(ValueError, match="IDENTITY_CLAIM=sub"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("IDENTITY_CLAIM", "upn")
    assert Settings(_env_file=None).identity_claim == "upn"  # type: ignore[call-arg]
    monkeypatch.delenv("IDENTITY_CLAIM")
    assert Settings(_env_file=None).identity_claim is None  # type: ignore[call-arg]


PROXY_HEADER_SAMPLES = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "studio.example.org",
    "X-Real-IP": "8.8.8.8",
    "Forwarded": "for=203.0.113.9;proto=https",
    "Via": "1.1 nginx",
}


def test_every_proxy_header_means_exposed_even_in_explicit_local_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_MODE", raising=False)
    plain = Settings(_env_file=None, oidc_configured=False)  # type: ignore[call-arg]
    assert not plain.team_mode
    assert hosting_problem(plain, "127.0.0.1", headers={"Host": "127.0.0.1:8501", "User-Agent": "x"}) is None
    explicit = Settings(_env_file=None, auth_mode="local", oidc_configured=False)  # type: ignore[call-arg]
    for name, value in [*PROXY_HEADER_SAMPLES.items(), ("x-real-ip", "8.8.8.8"), ("via", "1.1 caddy")]:
        assert via_proxy({name: value})
        # A proxied request is refused in local mode, even when AUTH_MODE=local says so explicitly.
        for local in (plain, explicit):
            problem = hosting_problem(local, "127.0.0.1", headers={name: value})
            assert problem is not None and "reverse proxy" in problem and "needs team mode" in problem
    assert not via_proxy({}) and not via_proxy(None)
    assert hosting_problem(explicit, "127.0.0.1", headers={"Host": "127.0.0.1:8501"}) is None
    assert hosting_problem(explicit, "0.0.0.0") is None  # an explicit choice for a non-loopback bind
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
            identity_from_claims({"email": reserved})
