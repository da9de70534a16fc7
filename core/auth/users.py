"""The users table: sign-in (bootstrap admins, default role, allowed domains) and user management."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.apikeys.tables import ApiKeyRow
from core.auth.identity import Permission, PermissionDenied, Role, User, require
from core.auth.tables import UserRow
from core.db import session_scope
from core.errors import StudioError
from core.settings import Settings
from core.store.tables import utcnow


@dataclass(frozen=True)
class UserInfo:
    email: str
    role: Role
    created_at: datetime
    last_sign_in: datetime | None


@dataclass(frozen=True)
class RemovedUser:
    email: str
    keys_revoked: int  # their API keys that were still active, revoked with them

    @property
    def keys_text(self) -> str:
        """ "1 API key", "3 API keys": for the messages of the CLI and the Users page."""
        return f"{self.keys_revoked} API key{'' if self.keys_revoked == 1 else 's'}"


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if not value or len(value) > 320 or any(c.isspace() for c in value):
        raise StudioError(f"not a usable e-mail or subject: {email!r}")
    return value


def _domain_allowed(identity: str, settings: Settings) -> bool:
    if not settings.allowed_email_domains:
        return True
    domain = identity.rpartition("@")[2] if "@" in identity else ""
    return domain in {d.strip().lower().lstrip("@") for d in settings.allowed_email_domains}


def sign_in(engine: Engine, settings: Settings, identity: str) -> User:
    """The user for a successful OIDC sign-in: their stored role, else ADMIN_EMAILS' admin or DEFAULT_ROLE for a
    first visit; refused (PermissionDenied) when ALLOWED_EMAIL_DOMAINS excludes them. Records the sign-in time."""
    email = normalize_email(identity)
    admins = {normalize_email(a) for a in settings.admin_emails}
    if email not in admins and not _domain_allowed(email, settings):
        raise PermissionDenied(f"{email} may not sign in here: this server only accepts accounts of its own domains")
    with session_scope(engine) as session:
        row = session.get(UserRow, email)
        if row is None:
            role = Role.ADMIN if email in admins else Role.parse(settings.default_role)
            row = UserRow(email=email, role=role.label, created_at=utcnow())
            session.add(row)
        elif email in admins and Role.parse(row.role) < Role.ADMIN:
            row.role = Role.ADMIN.label  # ADMIN_EMAILS is the operator's word: it always wins
        row.last_sign_in = utcnow()
        return User(email, Role.parse(row.role))


def lookup(engine: Engine, identity: str) -> User | None:
    """The stored user with their current role, or None when they are not in the table."""
    with session_scope(engine) as session:
        row = session.get(UserRow, normalize_email(identity))
        return None if row is None else User(row.email, Role.parse(row.role))


def list_users(engine: Engine) -> list[UserInfo]:
    """Everyone in the users table, by e-mail (reading the list is not guarded: it shows no secrets)."""
    with session_scope(engine) as session:
        rows = session.scalars(select(UserRow).order_by(UserRow.email))
        return [UserInfo(r.email, Role.parse(r.role), r.created_at, r.last_sign_in) for r in rows]


def add_user(engine: Engine, email: str, role: Role) -> UserInfo:
    """Add a person with a role before their first sign-in (admin only)."""
    require(Permission.MANAGE_USERS)
    email = normalize_email(email)
    with session_scope(engine) as session:
        if session.get(UserRow, email) is not None:
            raise StudioError(f"{email} already exists; use set-role to change their role")
        row = UserRow(email=email, role=role.label, created_at=utcnow())
        session.add(row)
        session.flush()
        return UserInfo(row.email, role, row.created_at, None)


def set_role(engine: Engine, email: str, role: Role) -> UserInfo:
    """Change a person's role (admin only). The last admin cannot demote themselves into a server nobody runs."""
    actor = require(Permission.MANAGE_USERS)
    email = normalize_email(email)
    with session_scope(engine) as session:
        row = session.get(UserRow, email)
        if row is None:
            raise StudioError(f"no user {email}; add them first")
        if role < Role.ADMIN and Role.parse(row.role) == Role.ADMIN and not actor.builtin:
            _refuse_last_admin(session, email)
        row.role = role.label
        return UserInfo(row.email, role, row.created_at, row.last_sign_in)


def remove_user(engine: Engine, email: str) -> RemovedUser:
    """Remove a person (admin only); the database deletes their API keys with the row (a foreign key ON DELETE
    CASCADE on their never-reused id), so a key never outlives its owner, however the row goes. They start again
    with the default role and a new id if they sign in later; their old keys are gone."""
    actor = require(Permission.MANAGE_USERS)
    email = normalize_email(email)
    with session_scope(engine) as session:
        row = session.get(UserRow, email)
        if row is None:
            raise StudioError(f"no user {email}")
        if Role.parse(row.role) == Role.ADMIN and not actor.builtin:
            _refuse_last_admin(session, email)
        active = session.scalar(
            select(func.count())
            .select_from(ApiKeyRow)
            .where(ApiKeyRow.user_id == row.id, ApiKeyRow.revoked_at.is_(None))
        )
        session.delete(row)
    return RemovedUser(email, int(active or 0))


def _refuse_last_admin(session: Session, email: str) -> None:
    admins = session.scalars(select(UserRow.email).where(UserRow.role == Role.ADMIN.label)).all()
    if set(admins) <= {email}:
        raise StudioError(f"{email} is the last admin; make someone else admin first (or use the CLI)")
