"""Whether this dashboard may start as configured: a server others can reach must not silently run in local mode,
where everyone is the implicit admin."""

from __future__ import annotations

import ipaddress

from core.settings import Settings

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


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


def hosting_problem(settings: Settings, bind_address: str | None) -> str | None:
    """The explanation to show instead of the dashboard, or None when it may run. `bind_address` is Streamlit's
    `server.address` (empty: all interfaces)."""
    if settings.team_mode and not settings.oidc_configured:
        return (
            "AUTH_MODE=team, but no sign-in provider is configured. Add an `[auth]` section to "
            "`.streamlit/secrets.toml` (see README, Team hosting), then restart."
        )
    if not settings.team_mode and settings.auth_mode != "local" and not is_loopback(bind_address):
        where = f"address {bind_address}" if bind_address else "every network interface"
        return (
            f"This dashboard listens on {where}, so others can reach it, but no sign-in is configured: in local mode "
            "everyone who reaches it would act as the admin. Configure sign-in (an `[auth]` section in "
            "`.streamlit/secrets.toml`; see README, Team hosting), or, if this machine is only yours, set "
            "AUTH_MODE=local explicitly, then restart."
        )
    return None
