"""Creating, listing, revoking and checking API keys.

A key reads `esk_<key id>_<secret>`: the key id (12 hex characters, public, shown in listings and logs) finds the
row, and the sha256 of the whole key is compared in constant time. The secret is 32 random bytes, so a plain hash
is enough (a slow hash protects guessable passwords, not random tokens); the clear key is never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from core.apikeys.tables import ApiKeyRow
from core.auth import Permission, PermissionDenied, current_user, require
from core.auth.tables import UserRow
from core.db import session_scope
from core.errors import StudioError
from core.migrations import open_database
from core.settings import Settings
from core.store.tables import utcnow

PREFIX = "esk"
_KEY = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")
LAST_USED_EVERY_S = 60.0  # last_used_at is written at most once a minute per key, not on every request


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key as listings show it: everything but the key."""

    id: int
    key_id: str
    user_email: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewApiKey:
    info: ApiKeyInfo
    key: str  # shown once to whoever created it; only its hash is stored


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones: callers get aware ones from both.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _info(row: ApiKeyRow) -> ApiKeyInfo:
    created = _utc(row.created_at)
    assert created is not None
    return ApiKeyInfo(
        row.id, row.key_id, row.user_email, row.name, created, _utc(row.last_used_at), _utc(row.revoked_at)
    )


def _identity(user: str) -> str:
    user = user.strip()
    if not user or len(user) > 320 or any(c.isspace() for c in user):
        raise StudioError("the user must be an email address (or OIDC subject) without spaces")
    return user.lower() if "@" in user else user


class ApiKeys:
    """The API keys in the project's database (SQLite or PostgreSQL)."""

    def __init__(self, settings: Settings) -> None:
        self.engine = open_database(settings.resolved_database_url, settings.data_root)
        self._last_written: dict[int, float] = {}
        self._lock = threading.Lock()

    def create(self, user: str, name: str = "") -> NewApiKey:
        """A new key for `user`, who must be in the users table (a key acts for a person an admin knows); the
        returned key is the only copy there will ever be. Anyone signed in may create keys for themselves (a key
        only calls the prediction API, which every role may use); keys for someone else are an admin's to make (the
        CLI runs as the operator, an admin)."""
        identity = _identity(user).lower()  # the users table stores identities lower-case
        actor = current_user()
        if actor is None or actor.id.lower() != identity:
            require(Permission.MANAGE_USERS)
        key_id = secrets.token_hex(6)
        key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        with session_scope(self.engine) as session:
            owner = session.get(UserRow, identity)
            if owner is None:
                raise StudioError(
                    f"no user {user.strip()}: API keys are for existing users; add them first with "
                    f"`python -m core users add {user.strip()} --role viewer` (or let them sign in once)"
                )
            row = ApiKeyRow(
                key_id=key_id, user_id=owner.id, user_email=owner.email, name=name.strip()[:128], key_hash=_hash(key)
            )
            session.add(row)
            session.flush()
            return NewApiKey(_info(row), key)

    def list_keys(self, user: str | None = None) -> list[ApiKeyInfo]:
        """Every key (of `user` only, when given). Listings show no secret, but only admins see other people's:
        `visible_keys` is what a page shows."""
        with session_scope(self.engine) as session:
            query = select(ApiKeyRow).order_by(ApiKeyRow.id)
            if user is not None:
                query = query.where(ApiKeyRow.user_email == _identity(user).lower())
            return [_info(r) for r in session.scalars(query)]

    def visible_keys(self) -> list[ApiKeyInfo]:
        """The keys the acting user may see and revoke: everyone's for an admin, their own for anyone else."""
        actor = current_user()
        if actor is None:
            raise PermissionDenied("sign in first: API keys need a signed-in user")
        return self.list_keys(None if actor.can(Permission.MANAGE_USERS) else actor.id)

    def revoke(self, ref: str | int) -> ApiKeyInfo:
        """Revoke a key by its number or its key id (as `list` shows them); revoking twice is a no-op. Its owner or
        an admin only."""
        actor = current_user()
        if actor is None:
            raise PermissionDenied("sign in first: revoking an API key needs a signed-in user")
        text = str(ref).strip()
        with session_scope(self.engine) as session:
            if text.isdigit():
                row = session.get(ApiKeyRow, int(text))
            else:
                row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.key_id == text)).first()
            if row is None:
                raise StudioError(f"no API key {text!r}; `python -m core apikeys list` shows them")
            if actor.id.lower() != row.user_email:
                require(Permission.MANAGE_USERS)  # someone else's key: an admin's to revoke
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return _info(row)

    def verify(self, key: str) -> ApiKeyInfo | None:
        """The key's owner and id when `key` is a valid, unrevoked key of a user who still exists; None otherwise.

        The database deletes a user's keys with their row (a foreign key); the join on the user's never-reused id
        also refuses a key whose user was removed and added again, should a database lack the constraint."""
        match = _KEY.match(key.strip())
        if match is None:
            return None
        with session_scope(self.engine) as session:
            found = session.execute(
                select(ApiKeyRow, UserRow.email)
                .outerjoin(UserRow, UserRow.id == ApiKeyRow.user_id)
                .where(ApiKeyRow.key_id == match.group(1))
            ).first()
            if found is None:
                return None
            row, owner = found  # owner: the user's e-mail, None when no user has the key's user id
            if owner is None or not hmac.compare_digest(row.key_hash, _hash(key.strip())) or row.revoked_at is not None:
                return None
            if self._due_for_last_used(row.id):
                row.last_used_at = utcnow()
            return _info(row)

    def _due_for_last_used(self, row_id: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last_written.get(row_id, -LAST_USED_EVERY_S) < LAST_USED_EVERY_S:
                return False
            self._last_written[row_id] = now
            return True
