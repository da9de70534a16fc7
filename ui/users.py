"""Widgets of the Users page (admins): the people who may sign in and their roles, and the server folders that
dashboard imports may read. Every change is made (and its permission checked) by `core.auth.users` and
`core.import_roots`; a change reruns the page, which then shows what was done once (`DONE_KEY`)."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from core.auth import Role
from core.auth.users import UserInfo, add_user, list_users, remove_user, set_role
from core.import_roots import (
    ImportRoots,
    editable_roots,
    reset_import_roots,
    roots_origin,
    set_import_roots,
    stored_import_roots,
)
from core.settings import Settings
from ui.common import run_safely

ROLES = [r.label for r in Role]
DONE_KEY = "users_done"  # what the last action did, shown once after the rerun that refreshes the table


def show_done() -> None:
    if done := st.session_state.pop(DONE_KEY, None):
        st.success(done)


def users_table(engine: Engine) -> list[UserInfo]:
    """The table of people; returns them for the forms below."""
    people = list_users(engine)
    rows = [
        {
            "user": u.email,
            "role": u.role.label,
            "created": u.created_at.strftime("%Y-%m-%d %H:%M"),
            "last sign-in": u.last_sign_in.strftime("%Y-%m-%d %H:%M") if u.last_sign_in else "never",
        }
        for u in people
    ]
    st.dataframe(rows, hide_index=True, key="users_table")
    return people


def change_role_section(engine: Engine, people: list[UserInfo]) -> None:
    if not people:
        return
    st.subheader("Change a role")
    c1, c2, c3 = st.columns([3, 2, 1], vertical_alignment="bottom")
    who = str(c1.selectbox("User", [u.email for u in people], key="users_pick"))
    current = next(u.role.label for u in people if u.email == who)
    role = c2.selectbox("Role", ROLES, index=ROLES.index(current), key="users_role")
    saved = None
    if c3.button("Save", key="users_save", disabled=role == current):
        saved = run_safely(lambda: set_role(engine, who, Role.parse(str(role))), what="Changing the role")
    removed = None
    if st.button(f"Remove {who}", key="users_remove"):
        removed = run_safely(lambda: remove_user(engine, who), what="Removing")
    if removed is not None:
        st.session_state[DONE_KEY] = f"Removed {removed.email} and revoked their {removed.keys_text}."
    if saved is not None or removed is not None:
        st.rerun()


def add_user_section(engine: Engine, cfg: Settings) -> None:
    st.subheader("Add someone before their first sign-in")
    a1, a2, a3 = st.columns([3, 2, 1], vertical_alignment="bottom")
    email = a1.text_input("E-mail", key="users_new_email")
    new_role = a2.selectbox("Role", ROLES, index=ROLES.index(cfg.default_role), key="users_new_role")
    if a3.button("Add", key="users_add", disabled=not email.strip()) and (
        run_safely(lambda: add_user(engine, email, Role.parse(str(new_role))), what="Adding") is not None
    ):
        st.rerun()


def import_roots_section(cfg: Settings) -> None:
    st.subheader("Import roots")
    stored = stored_import_roots(cfg)
    st.caption(
        "The server folders that folder, manifest and YOLO imports from the dashboard may read (the CLI is not "
        f"limited). Now {ImportRoots.from_settings(cfg).describe(hint=False)}; {roots_origin(cfg, stored)}."
    )
    offered, missing = editable_roots(cfg, stored)
    if missing:
        st.caption(
            "Not offered, because no such folder exists on the server (yet): "
            + ", ".join(f"`{p}`" for p in missing)
            + ". Create it on the server, or enter folders that exist."
        )
    if not offered:
        st.caption("Enter the absolute path of each folder on the server that dashboard imports may read.")
    text = st.text_area(
        "Folders, one absolute path per line",
        value="\n".join(str(p) for p in offered),
        key="roots_text",
        help="Each must be an existing folder on the server; links are resolved before they are stored. An empty "
        "list allows no server-side import.",
    )
    r1, r2 = st.columns(2)
    changed = None
    if r1.button("Save import roots", key="roots_save"):
        changed = run_safely(lambda: set_import_roots(cfg, text.splitlines()), what="Saving the import roots")
    if changed is not None:
        st.session_state[DONE_KEY] = "Import roots saved: " + (
            ", ".join(map(str, changed.roots)) or "none (no imports)"
        )
    reset = (
        stored is not None
        and r2.button("Use the server's setting again", key="roots_reset")
        and run_safely(lambda: reset_import_roots(cfg), what="Resetting the import roots")
    )
    if reset:
        st.session_state[DONE_KEY] = "Import roots: the server's setting applies again."
    if changed is not None or reset:
        st.rerun()
