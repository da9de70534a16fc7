"""Who is acting, and what their role allows: roles, permissions, the signed-in user and the users table.

`require(Permission.X)` is called inside the core functions that change data, models or spend the Gemini key; the
pages hide what a role may not do, but the check that counts is the one here.
"""

from core.auth.identity import (
    LOCAL_USER,
    OPERATOR,
    Permission,
    PermissionDenied,
    Role,
    User,
    acting_as,
    allowed,
    current_user,
    may_act_for,
    require,
    require_owner,
)

__all__ = [
    "LOCAL_USER",
    "OPERATOR",
    "Permission",
    "PermissionDenied",
    "Role",
    "User",
    "acting_as",
    "allowed",
    "current_user",
    "may_act_for",
    "require",
    "require_owner",
]
