"""`python -m core users list | add EMAIL --role ROLE | set-role EMAIL ROLE | remove EMAIL`: who may do what."""

from __future__ import annotations

import argparse
from typing import Any

from core.auth import Role
from core.settings import get_settings

ROLE_NAMES = [r.label for r in Role]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "users",
        help="list people and their roles, add them, change roles, remove them",
        description="Roles: viewer < labeler < trainer < admin. People who sign in for the first time get "
        "DEFAULT_ROLE (ADMIN_EMAILS: admin). The CLI acts as the operator, with admin rights.",
    )
    sub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="everyone, with role, creation and last sign-in").set_defaults(func=run_list)
    add = sub.add_parser("add", help="add a person before their first sign-in")
    add.add_argument("email")
    add.add_argument("--role", choices=ROLE_NAMES, default=None, help="default: DEFAULT_ROLE")
    add.set_defaults(func=run_add)
    set_role = sub.add_parser("set-role", help="change a person's role")
    set_role.add_argument("email")
    set_role.add_argument("role", choices=ROLE_NAMES)
    set_role.set_defaults(func=run_set_role)
    remove = sub.add_parser(
        "remove", help="remove a person and revoke their API keys (a later sign-in starts again at DEFAULT_ROLE)"
    )
    remove.add_argument("email")
    remove.set_defaults(func=run_remove)


def _engine() -> Any:
    from core.migrations import open_database

    settings = get_settings()
    return open_database(settings.resolved_database_url, settings.data_root)


def run_list(args: argparse.Namespace) -> int:
    from core.auth.users import list_users

    people = list_users(_engine())
    if not people:
        print("no users yet (people appear when they first sign in, or with `users add`)")
    for u in people:
        last = u.last_sign_in.strftime("%Y-%m-%d %H:%M") if u.last_sign_in else "never"
        print(f"{u.email:40} {u.role.label:8} created {u.created_at:%Y-%m-%d}  last sign-in {last}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from core.auth.users import add_user

    info = add_user(_engine(), args.email, Role.parse(args.role or get_settings().default_role))
    print(f"added {info.email} as {info.role.label}")
    return 0


def run_set_role(args: argparse.Namespace) -> int:
    from core.auth.users import set_role

    set_role(_engine(), args.email, Role.parse(args.role))
    print(f"{args.email.strip().lower()} is now {args.role}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from core.auth.users import remove_user

    removed = remove_user(_engine(), args.email)
    print(f"removed {removed.email} and revoked their {removed.keys_text}")
    return 0
