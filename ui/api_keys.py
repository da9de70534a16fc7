"""The API keys section: everyone creates, lists and revokes their own keys for the REST API; admins see and revoke
everyone's and may create keys for anyone in the users table. A new key is shown once, right after it is made: only
its hash is stored (core.apikeys)."""

from __future__ import annotations

import streamlit as st

from core.apikeys import ApiKeyInfo, ApiKeys
from core.auth import Permission, User
from core.auth.users import list_users
from ui.common import get_store, run_safely, settings


def _when(info: ApiKeyInfo) -> dict[str, str]:
    return {
        "created": f"{info.created_at:%Y-%m-%d %H:%M}",
        "last used": f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never",
        "state": "active" if info.active else f"revoked {info.revoked_at:%Y-%m-%d %H:%M}",
    }


def _label(info: ApiKeyInfo, admin: bool) -> str:
    return f"{info.key_id} · {info.name or 'unnamed'}" + (f" · {info.user_email}" if admin else "")


def _create(keys: ApiKeys, user: User, admin: bool) -> None:
    st.subheader("Create a key")
    c1, c2, c3 = st.columns([3, 3, 1], vertical_alignment="bottom")
    if admin:
        people = [u.email for u in list_users(get_store().engine)]
        own = [user.id] if user.id in people else []
        owner = c1.selectbox("For", own + [p for p in people if p != user.id], key="apikeys_owner")
        if not people:
            st.caption("Nobody is in the users table yet: add people on the Users page first.")
    else:
        owner = user.id
        c1.text_input("For", value=user.id, disabled=True, key="apikeys_owner_self")
    name = c2.text_input("What it is for", placeholder="e.g. kiosk in room 2", key="apikeys_name", max_chars=128)
    if not c3.button("Create key", key="apikeys_create", type="primary", disabled=not owner) or not owner:
        return
    made = run_safely(lambda: keys.create(str(owner), name), what="Creating the key")
    if made is not None:
        st.success(
            f"Key {made.info.key_id} for {made.info.user_email}. Copy it now: it is shown only this once (only its "
            "hash is stored). Send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`."
        )
        st.code(made.key, language=None)


def _list_and_revoke(keys: ApiKeys, admin: bool) -> None:
    st.subheader("All keys" if admin else "Your keys")
    rows = keys.visible_keys()
    if not rows:
        st.info("No API keys yet.")
        return
    st.dataframe(
        [
            {"id": k.id, "key id": k.key_id, **({"user": k.user_email} if admin else {}), "name": k.name, **_when(k)}
            for k in rows
        ],
        hide_index=True,
        key="apikeys_table",
    )
    active = {_label(k, admin): k for k in rows if k.active}
    if not active:
        return
    r1, r2 = st.columns([5, 1], vertical_alignment="bottom")
    pick = r1.selectbox("Key to revoke", list(active), key="apikeys_revoke_pick")
    if not r2.button("Revoke", key="apikeys_revoke") or pick is None:
        return
    revoked = run_safely(lambda: keys.revoke(active[str(pick)].key_id), what="Revoking the key")
    if revoked is not None:
        st.session_state["apikeys_done"] = f"Key {revoked.key_id} is revoked: it stops working at the next request."
        st.rerun()


def api_keys_section(user: User) -> None:
    """The whole section: what keys are for, creation (the key shown once), the list, and revocation."""
    cfg = settings()
    if done := st.session_state.pop("apikeys_done", None):
        st.success(done)
    required = "required" if cfg.requires_api_key else "not required on this server now (API_REQUIRE_KEY)"
    st.caption(
        "Keys let scripts and other apps call the prediction API (`/api/predict`) as you; they are "
        f"{required}. Revoke a key you no longer use; keys go with their user when an admin removes them."
    )
    keys = ApiKeys(cfg)
    admin = user.can(Permission.MANAGE_USERS)
    _create(keys, user, admin)
    _list_and_revoke(keys, admin)
