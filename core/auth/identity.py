"""Roles, permissions and the acting user.

The acting user is a context variable: the dashboard sets it at the top of every script run (from `st.user`), the
CLI runs as the operator, and in local mode an unset variable means the one implicit local user. Streamlit runs a
session's scripts in that session's own threads, so one session's identity never leaks into another's; background
threads started by a page run in a copy of its context (`contextvars.copy_context`), as the user who started them.
In team mode an unset variable means nobody is signed in, and every guarded call is refused.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

from core.errors import StudioError
from core.settings import get_settings


class Role(enum.IntEnum):
    """Ordered: each role can do everything the roles below it can."""

    VIEWER = 1
    LABELER = 2
    TRAINER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            valid = ", ".join(r.label for r in cls)
            raise StudioError(f"unknown role {name!r}; valid: {valid}") from None


class Permission(enum.Enum):
    """An action a role may be allowed (see `LEAST_ROLE` for who may do it)."""

    EVALUATE = "test models"  # Batch test of uploaded images (a job: the worker runs it)
    REVIEW = "review"  # approve, correct, reject, skip, undo own decisions in active learning
    SAVE_SNAPSHOT = "save snapshot"
    IMPORT = "import"
    EXTRACT = "extract"
    TRAIN = "train"  # landmark models, ResNet, detector, active-learning scoring and rounds
    GENERATE = "generate"  # spends the Gemini key
    LLM_LABEL = "LLM labeling"  # spends the Gemini key
    ACTIVATE = "activate models"
    DELETE = "delete"  # data and models
    MANAGE_USERS = "manage users"
    CHANGE_IMPORT_ROOTS = "change import roots"  # the server folders dashboard imports may read
    ACT_FOR_OTHERS = "act for others"  # cancel anyone's job, undo anyone's decision

    @property
    def least_role(self) -> Role:
        return LEAST_ROLE[self]

    @property
    def label(self) -> str:
        return self.value


# The least role allowed each action (roles are ordered, so every higher role may too).
LEAST_ROLE: Final[dict[Permission, Role]] = {
    Permission.EVALUATE: Role.VIEWER,
    Permission.REVIEW: Role.LABELER,
    Permission.SAVE_SNAPSHOT: Role.LABELER,
    Permission.IMPORT: Role.TRAINER,
    Permission.EXTRACT: Role.TRAINER,
    Permission.TRAIN: Role.TRAINER,
    Permission.GENERATE: Role.TRAINER,
    Permission.LLM_LABEL: Role.TRAINER,
    Permission.ACTIVATE: Role.TRAINER,
    Permission.DELETE: Role.ADMIN,
    Permission.MANAGE_USERS: Role.ADMIN,
    Permission.CHANGE_IMPORT_ROOTS: Role.ADMIN,
    Permission.ACT_FOR_OTHERS: Role.ADMIN,
}


class PermissionDenied(StudioError):
    """The acting user's role does not allow the action (or nobody is signed in)."""


@dataclass(frozen=True)
class User:
    """A signed-in person (their e-mail, else the provider's `sub`) or a built-in identity, with a role."""

    id: str
    role: Role
    builtin: bool = False  # the implicit local user or the CLI operator, not a row in the users table

    def can(self, permission: Permission) -> bool:
        return self.role >= permission.least_role


# Local mode: whoever runs the dashboard on their own machine. The CLI: whoever has a shell on the server.
LOCAL_USER: Final[User] = User("local user", Role.ADMIN, builtin=True)
OPERATOR: Final[User] = User("operator (cli)", Role.ADMIN, builtin=True)

_current: ContextVar[User | None] = ContextVar("studio_user", default=None)


def current_user() -> User | None:
    """The acting user; in local mode the implicit local user when none was set, in team mode None."""
    user = _current.get()
    if user is None and not get_settings().team_mode:
        return LOCAL_USER
    return user


@contextmanager
def acting_as(user: User | None) -> Iterator[User | None]:
    """Run a block as `user` (the CLI as OPERATOR, a page as the signed-in user, tests as anyone)."""
    token = _current.set(user)
    try:
        yield user
    finally:
        _current.reset(token)


def set_current_user(user: User | None) -> None:
    """Set the acting user for the rest of this thread's context (the dashboard, once per script run)."""
    _current.set(user)


def require(permission: Permission) -> User:
    """The acting user, if their role allows `permission`; else `PermissionDenied` with a message for them."""
    user = current_user()
    if user is None:
        raise PermissionDenied(f"sign in first: {permission.label} needs a signed-in user")
    if not user.can(permission):
        raise PermissionDenied(
            f"{user.id} is a {user.role.label}; {permission.label} needs the {permission.least_role.label} role "
            "(ask an admin)"
        )
    return user


def allowed(permission: Permission) -> bool:
    """Whether the acting user may do it (for pages that hide controls; core still calls `require`)."""
    user = current_user()
    return user is not None and user.can(permission)


def may_act_for(owner: str | None) -> bool:
    """Whether the acting user is `owner` or an admin (pages hide controls; `require_owner` enforces)."""
    user = current_user()
    return user is not None and ((owner is not None and user.id == owner) or user.can(Permission.ACT_FOR_OTHERS))


def require_owner(owner: str | None, what: str) -> User:
    """The acting user, if they are `owner` (who started a job, who made a decision) or an admin."""
    user = current_user()
    if user is None:
        raise PermissionDenied(f"sign in first: {what} needs a signed-in user")
    # A job or decision with no recorded owner (made before identities existed) is an admin's to act on.
    if (owner is None or user.id != owner) and not user.can(Permission.ACT_FOR_OTHERS):
        raise PermissionDenied(f"{what}: only {owner} (who started it) or an admin may do that")
    return user
