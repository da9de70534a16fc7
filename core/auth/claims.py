"""Which identity a provider's sign-in claims give: the verified `email` claim, else refused, so that nobody can
claim an address in ADMIN_EMAILS or ALLOWED_EMAIL_DOMAINS they do not own.

`sub` is never an identity: a provider lets its users pick or shape it (the mock provider takes any string), and an
address-shaped `sub` would be checked against ADMIN_EMAILS. A provider without an `email` claim can be mapped to
another claim it verifies (IDENTITY_CLAIM, e.g. `upn`); that is the operator's explicit choice, off by default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.auth.identity import LOCAL_USER, OPERATOR, PermissionDenied

EMAIL_CLAIM = "email"


def _explicitly_false(value: Any) -> bool:
    # Some providers send the claim as a string ("false"); anything but an explicit no counts as verified.
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def claims_to_read(identity_claim: str | None = None) -> tuple[str, ...]:
    """The ID-token claims `identity_from_claims` looks at (the dashboard copies these out of `st.user`)."""
    return (EMAIL_CLAIM, "email_verified", *((identity_claim,) if identity_claim else ()))


def identity_from_claims(claims: Mapping[str, Any], identity_claim: str | None = None) -> str:
    """The signed-in identity from the ID token's claims: the `email` claim, unless the provider marks it unverified
    (`email_verified` false). Without an `email` claim, the claim named by `identity_claim` (Settings'
    IDENTITY_CLAIM) when the operator set one; otherwise `PermissionDenied` with a message for the visitor."""
    email = claims.get(EMAIL_CLAIM)
    if email:
        if _explicitly_false(claims.get("email_verified")):
            raise PermissionDenied(
                f"your sign-in provider says the e-mail address {email} is not verified, so it cannot be used here. "
                "Verify it with your provider (or use an account whose address is verified), then sign in again."
            )
        return _not_builtin(str(email))
    mapped = claims.get(identity_claim) if identity_claim and identity_claim != EMAIL_CLAIM else None
    if mapped:
        return _not_builtin(str(mapped))
    raise PermissionDenied(
        "your sign-in provider did not send an e-mail address (the `email` claim), and this server identifies "
        "people by their verified e-mail only. Ask your provider's admin to release the `email` claim (scope "
        "`email`) to this app, or ask this server's operator to map another verified claim (IDENTITY_CLAIM)."
    )


def _not_builtin(identity: str) -> str:
    # Jobs and path rules know the CLI operator and the local user by these ids: nobody may sign in as them.
    if identity in (OPERATOR.id, LOCAL_USER.id):
        raise PermissionDenied(
            f"{identity!r} is reserved for the dashboard's own identities; sign in with another account"
        )
    return identity
