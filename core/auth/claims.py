"""Which identity a provider's sign-in claims give: the e-mail when the provider has not said it is unverified, else
refused, so that nobody can claim an address in ADMIN_EMAILS or ALLOWED_EMAIL_DOMAINS they do not own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.auth.identity import LOCAL_USER, OPERATOR, PermissionDenied


def _explicitly_false(value: Any) -> bool:
    # Some providers send the claim as a string ("false"); anything but an explicit no counts as verified.
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def identity_from_claims(claims: Mapping[str, Any]) -> str | None:
    """The signed-in identity from the ID token's claims: the `email`, else the provider's `sub`; None without
    either. An e-mail the provider marks unverified (`email_verified` false) is refused with `PermissionDenied`
    rather than replaced by `sub`: signing in must not quietly give someone a different identity."""
    email = claims.get("email")
    if email:
        if _explicitly_false(claims.get("email_verified")):
            raise PermissionDenied(
                f"your sign-in provider says the e-mail address {email} is not verified, so it cannot be used here. "
                "Verify it with your provider (or use an account whose address is verified), then sign in again."
            )
        return _not_builtin(str(email))
    sub = claims.get("sub")
    return _not_builtin(str(sub)) if sub else None


def _not_builtin(identity: str) -> str:
    # Jobs and path rules know the CLI operator and the local user by these ids: nobody may sign in as them.
    if identity in (OPERATOR.id, LOCAL_USER.id):
        raise PermissionDenied(
            f"{identity!r} is reserved for the dashboard's own identities; sign in with another account"
        )
    return identity
