"""Landmarks: the landmark table with filters and CSV download, and the 3D face viewer (the seed's arrow-key
point-cloud viewer: Left/Right step through the filtered set)."""

from __future__ import annotations

import streamlit as st

from ui.common import get_store, page_setup
from ui.landmarks import download_section, filters_ui, table_section, viewer_section

page_setup("Landmarks", icon=":material/3d_rotation:")
store = get_store()
filters = filters_ui()
table = table_section(store, filters)
if table is None:
    st.stop()
download_section(store, filters, table)
st.divider()
viewer_section(store, filters, table)
