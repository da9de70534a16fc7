"""Data: import images (files, zip, server folder, manifest, YOLO dataset), extract their landmarks, and (admins)
delete images."""

from __future__ import annotations

import streamlit as st

from core.auth import Permission, allowed
from ui.auth import needs
from ui.common import get_store, page_setup
from ui.data import extraction_section, flagged_section, import_section
from ui.delete_images import delete_section

page_setup("Data", icon=":material/upload:")
store = get_store()

import_section(store)
st.divider()
extraction_section(store)
flagged_section(store)

st.divider()
st.subheader("Delete images")
if not allowed(Permission.DELETE):
    needs(Permission.DELETE, "Deleting images")
else:
    delete_section(store)
