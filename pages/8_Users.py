"""Users (admins): who may sign in, their roles and last sign-in; change roles, add and remove people; the server
folders dashboard imports may read."""

from __future__ import annotations

import streamlit as st

from core.auth import Permission, allowed
from ui.common import get_store, page_setup, settings
from ui.users import add_user_section, change_role_section, import_roots_section, show_done, users_table

page_setup("Users", icon=":material/group:")
if not allowed(Permission.MANAGE_USERS):
    st.info("Only admins manage users.")
    st.stop()
engine = get_store().engine
cfg = settings()
show_done()

domains = cfg.allowed_email_domains
st.caption(
    f"People get **{cfg.default_role}** when they first sign in"
    + (f"; only these domains may sign in: {', '.join(domains)}" if domains else "")
    + ". ADMIN_EMAILS are always admins. The CLI does the same: `python -m core users --help`."
)
people = users_table(engine)
change_role_section(engine, people)
add_user_section(engine, cfg)
import_roots_section(cfg)
