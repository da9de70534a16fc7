"""`python -m core apikeys create|list|revoke`: REST API keys (the operator's tool; keys are shown once)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.apikeys import ApiKeys


def _keys() -> ApiKeys:
    from core.apikeys import ApiKeys
    from core.settings import get_settings

    return ApiKeys(get_settings())


def cmd_create(args: argparse.Namespace) -> int:
    new = _keys().create(args.user, args.name or "")
    print(new.key)  # stdout: the key alone, so a script can capture it
    print(
        f"API key {new.info.id} ({new.info.key_id}) for {new.info.user_email}: shown once, only its hash is stored. "
        "Send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
        file=sys.stderr,
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = _keys().list_keys(args.user)
    if not rows:
        print("no API keys")
        return 0
    print(f"{'id':>4}  {'key id':<12}  {'user':<32}  {'name':<20}  {'created':<16}  {'last used':<16}  state")
    for k in rows:
        last = k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "never"
        state = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}"
        print(
            f"{k.id:>4}  {k.key_id:<12}  {k.user_email:<32}  {k.name:<20}  "
            f"{k.created_at:%Y-%m-%d %H:%M}  {last:<16}  {state}"
        )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    info = _keys().revoke(args.id)
    print(f"API key {info.id} ({info.key_id}) of {info.user_email} is revoked")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("apikeys", help="REST API keys: create (shown once), list, revoke")
    actions = p.add_subparsers(dest="apikeys_command", metavar="ACTION", required=True)
    c = actions.add_parser("create", help="create a key for a user and print it once")
    c.add_argument("--user", required=True, help="the owner's email (the identity they sign in with)")
    c.add_argument("--name", default="", help="what the key is for, e.g. 'kiosk in room 2'")
    c.set_defaults(func=cmd_create)
    c = actions.add_parser("list", help="every key with its owner, creation, last use and state (never the key)")
    c.add_argument("--user", default=None, help="only this user's keys")
    c.set_defaults(func=cmd_list)
    c = actions.add_parser("revoke", help="revoke a key by its number or key id (from `list`)")
    c.add_argument("id", help="the key's number or key id")
    c.set_defaults(func=cmd_revoke)
