"""Whether the dashboard may run as configured, and whether the REST API may answer without keys: a server others can
reach (a non-loopback bind or peer, or a request a reverse proxy forwarded) must not silently run in local mode,
where everyone is the implicit admin, nor serve predictions to anyone without keys."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from core.settings import Settings

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
# Headers a reverse proxy or CDN adds: a request that carries one came from somewhere else, whatever address we
# listen on. Any `X-Forwarded-*` counts too (Proto, Host, Port, Prefix, ...): nginx setups often send only one.
PROXY_HEADERS = frozenset(
    {
        "forwarded",
        "via",
        "x-real-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "x-original-forwarded-for",
        "true-client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
    }
)
PROXY_HEADER_PREFIX = "x-forwarded-"
# Said wherever local mode is refused: a header-less proxy (a plain `proxy_pass`) cannot be told from a local visit.
PROXIED_NEEDS_TEAM_MODE = (
    "A server behind a reverse proxy needs team mode (sign-in), even when it listens on 127.0.0.1: a proxy that "
    "sends no forwarding header cannot be told apart from a visit from this machine."
)


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost. An empty address means every interface, which is not loopback."""
    if not address:
        return False
    host = address.strip().strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def via_proxy(headers: Mapping[str, str] | None) -> bool:
    """True when a request's headers show a reverse proxy forwarded it (`Forwarded`, `Via`, `X-Real-IP`, any
    `X-Forwarded-*`, a CDN's client-IP header): behind a proxy on 127.0.0.1 the bind address is loopback, but the
    visitors are not."""
    for name in headers or {}:
        lowered = name.lower()
        if lowered in PROXY_HEADERS or lowered.startswith(PROXY_HEADER_PREFIX):
            return True
    return False


def hosting_problem(
    settings: Settings,
    bind_address: str | None,
    *,
    headers: Mapping[str, str] | None = None,
    streamlit_auth: bool = False,
) -> str | None:
    """The explanation to show instead of the dashboard, or None when it may run. `bind_address` is Streamlit's
    `server.address` (empty: all interfaces), `headers` the request's, and `streamlit_auth` whether Streamlit itself
    has an `[auth]` section (`st.secrets`, which may come from a file Settings does not read)."""
    if streamlit_auth and not settings.team_mode:
        # Streamlit would sign people in, but core would treat everyone as the local admin: never run that way.
        return (
            "Sign-in is configured for Streamlit (an `[auth]` section in its secrets), but not in a secrets file "
            "Expression Studio reads (`~/.streamlit/secrets.toml`, or `.streamlit/secrets.toml` where you start it). "
            "Move the `[auth]` section there, or set AUTH_MODE=team, then restart."
        )
    if settings.team_mode and not (settings.oidc_configured or streamlit_auth):
        return (
            "AUTH_MODE=team, but no sign-in provider is configured. Add an `[auth]` section to "
            "`.streamlit/secrets.toml` (see README, Team hosting), then restart."
        )
    if settings.team_mode:
        return None
    if via_proxy(headers):
        # Even with AUTH_MODE=local: a proxy serves others, and local mode would make each of them the admin.
        return (
            "This dashboard is reached through a reverse proxy (this request carries a forwarding header such as "
            "X-Forwarded-For, X-Real-IP, Forwarded or Via), so others can reach it, but it runs in local mode, where "
            "everyone would act as the admin. Configure sign-in (an `[auth]` section in `.streamlit/secrets.toml`; "
            f"see README, Team hosting), then restart. {PROXIED_NEEDS_TEAM_MODE}"
        )
    if settings.auth_mode == "local" or is_loopback(bind_address):
        return None
    where = f"on address {bind_address}" if bind_address else "on every network interface"
    return (
        f"This dashboard is reached {where}, so others can reach it, but no sign-in is configured: in local mode "
        "everyone who reaches it would act as the admin. Configure sign-in (an `[auth]` section in "
        "`.streamlit/secrets.toml`; see README, Team hosting), or, if this machine is only yours, set "
        f"AUTH_MODE=local explicitly, then restart. {PROXIED_NEEDS_TEAM_MODE}"
    )


def open_api_problem(settings: Settings, client_host: str | None, headers: Mapping[str, str] | None) -> str | None:
    """Why the REST API must refuse a prediction request that carries no key check, or None when it may answer.

    Keys not required is safe only for a client on this machine, or when the operator said so explicitly
    (API_REQUIRE_KEY=false, or AUTH_MODE=local for direct clients). Under uvicorn the app cannot know the bind
    address, so the peer of each request decides: a non-loopback peer, a peer that is not an address at all, or a
    request a proxy forwarded (whatever AUTH_MODE says: a proxy serves others) counts as exposed."""
    if settings.requires_api_key or settings.api_require_key is False:
        return None
    if via_proxy(headers):
        return _OPEN_API_REFUSED
    if settings.auth_mode == "local" or is_loopback(client_host):
        return None
    return _OPEN_API_REFUSED


_OPEN_API_REFUSED = (
    "this API serves predictions only to its own machine until keys are required: the operator sets "
    "API_REQUIRE_KEY=true and creates keys (python -m core apikeys create --user EMAIL), or sets "
    "API_REQUIRE_KEY=false explicitly to serve everyone (behind a reverse proxy, require keys: a proxy that "
    "sends no forwarding header looks like this machine)"
)
