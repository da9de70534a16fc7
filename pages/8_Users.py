"""Users (admins): who may sign in, their roles and last sign-in; change roles, add and remove people; the server
folders dashboard imports may read."""

from __future__ import annotations

import streamlit as st

from core.auth import Permission, Role, allowed
from core.auth.users import add_user, list_users, remove_user, set_role
from core.import_roots import ImportRoots, reset_import_roots, set_import_roots, stored_import_roots
from ui.common import get_store, page_setup, run_safely, settings

page_setup("Users", icon=":material/group:")
if not allowed(Permission.MANAGE_USERS):
    st.info("Only admins manage users.")
    st.stop()
engine = get_store().engine
cfg = settings()
ROLES = [r.label for r in Role]
_DONE = "users_done"  # what the last action did, shown once after the rerun that refreshes the table
if done := st.session_state.pop(_DONE, None):
    st.success(done)

st.caption(
    f"People get **{cfg.default_role}** when they first sign in"
    + (f"; only these domains may sign in: {', '.join(cfg.allowed_email_domains)}" if cfg.allowed_email_domains else "")
    + ". ADMIN_EMAILS are always admins. The CLI does the same: `python -m core users --help`."
)
people = list_users(engine)
st.dataframe(
    [
        {
            "user": u.email,
            "role": u.role.label,
            "created": u.created_at.strftime("%Y-%m-%d %H:%M"),
            "last sign-in": u.last_sign_in.strftime("%Y-%m-%d %H:%M") if u.last_sign_in else "never",
        }
        for u in people
    ],
    hide_index=True,
    key="users_table",
)

if people:
    st.subheader("Change a role")
    c1, c2, c3 = st.columns([3, 2, 1], vertical_alignment="bottom")
    who = c1.selectbox("User", [u.email for u in people], key="users_pick")
    current = next(u.role.label for u in people if u.email == who)
    role = c2.selectbox("Role", ROLES, index=ROLES.index(current), key="users_role")
    saved = c3.button("Save", key="users_save", disabled=role == current) and run_safely(
        lambda: set_role(engine, str(who), Role.parse(str(role))), what="Changing the role"
    )
    removed = st.button(f"Remove {who}", key="users_remove") and run_safely(
        lambda: remove_user(engine, str(who)), what="Removing"
    )
    if removed:
        keys = f"{removed.keys_revoked} API key{'' if removed.keys_revoked == 1 else 's'}"
        st.session_state[_DONE] = f"Removed {removed.email} and revoked their {keys}."
    if saved or removed:
        st.rerun()

st.subheader("Add someone before their first sign-in")
a1, a2, a3 = st.columns([3, 2, 1], vertical_alignment="bottom")
email = a1.text_input("E-mail", key="users_new_email")
new_role = a2.selectbox("Role", ROLES, index=ROLES.index(cfg.default_role), key="users_new_role")
added = a3.button("Add", key="users_add", disabled=not email.strip()) and run_safely(
    lambda: add_user(engine, email, Role.parse(str(new_role))), what="Adding"
)
if added:
    st.rerun()

st.subheader("Import roots")
stored = stored_import_roots(cfg)
if stored is not None:
    origin = f"set here by {stored.changed_by} on {stored.changed_at:%Y-%m-%d %H:%M} UTC"
elif cfg.import_roots is not None:
    origin = "from the server's IMPORT_ROOTS setting"
else:
    origin = "the default: " + ("<DATA_ROOT>/inbox in team mode" if cfg.team_mode else "anywhere, in local mode")
st.caption(
    "The server folders that folder, manifest and YOLO imports from the dashboard may read (the CLI is not limited). "
    f"Now {ImportRoots.from_settings(cfg).describe(hint=False)}; "
    f"{origin}."
)
current = list(stored.roots) if stored is not None else (cfg.resolved_import_roots or [])
# Offer only folders that exist: a pre-filled default that does not (a team server's <DATA_ROOT>/inbox before anyone
# made it) could never be saved as it stands.
missing = [p for p in current if not p.is_dir()]
if missing:
    st.caption(
        "Not offered, because no such folder exists on the server (yet): "
        + ", ".join(f"`{p}`" for p in missing)
        + ". Create it on the server, or enter folders that exist."
    )
offered = [p for p in current if p.is_dir()]
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
changed = r1.button("Save import roots", key="roots_save") and run_safely(
    lambda: set_import_roots(cfg, text.splitlines()), what="Saving the import roots"
)
if changed:
    st.session_state[_DONE] = "Import roots saved: " + (", ".join(map(str, changed.roots)) or "none (no imports)")
reset = (
    stored is not None
    and r2.button("Use the server's setting again", key="roots_reset")
    and run_safely(lambda: reset_import_roots(cfg), what="Resetting the import roots")
)
if reset:
    st.session_state[_DONE] = "Import roots: the server's setting applies again."
if changed or reset:
    st.rerun()
