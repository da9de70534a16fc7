"""Widgets of the Landmarks page: filters, the landmark table with its CSV download, and the 3D face viewer (the
seed's arrow-key point-cloud viewer: Left/Right step through the filtered set)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.errors import ImageNotReadable
from core.export import csv_bytes, landmark_table
from core.imaging import decode_rgb
from core.schema import EMOTIONS, EXTRACTION_OK, SOURCES, STATUSES
from core.store import Store
from core.store.repository import Filters
from core.store.views import record_table, stored_face
from core.viz.landmarks import blendshape_bars, draw_landmarks, face_mesh_3d
from ui.common import state

POS_KEY, FILTER_KEY = "viewer_pos", "viewer_filter"


def filters_ui() -> Filters:
    """The sidebar's filters; only faces with landmarks are ever shown."""
    with st.sidebar:
        st.header("Filter")
        emotions = st.multiselect("Emotion", EMOTIONS, key="f_emotion")
        sources = st.multiselect("Source", SOURCES, key="f_source")
        statuses = st.multiselect("Status", STATUSES, key="f_status")
    return Filters(emotions=emotions, sources=sources, statuses=statuses, extraction_states=[EXTRACTION_OK])


def _filter_key(filters: Filters) -> tuple[object, ...]:
    return (tuple(filters.emotions), tuple(filters.sources), tuple(filters.statuses))


def table_section(store: Store, filters: Filters) -> pd.DataFrame | None:
    """The matching faces' table (None, with a hint, when there is none)."""
    table = record_table(store, filters)
    if table.empty:
        st.info(
            "No faces with landmarks match. Import images and run the extraction on the **Data** page "
            "(or `python -m core import FOLDER --extract`)."
        )
        return None
    st.caption(f"{len(table)} faces with landmarks. Click a column header to sort.")
    st.dataframe(table.drop(columns=["landmarks"]), hide_index=True, key="landmark_table", height=260)
    return table


@st.cache_data(show_spinner="Building landmarks.csv…", max_entries=4)
def _csv(key: tuple[object, ...], _store: Store, _filters: Filters) -> bytes:
    return csv_bytes(landmark_table(_store, _filters))


def download_section(store: Store, filters: Filters, table: pd.DataFrame) -> None:
    # Built only when asked, and cached per filter and table state (a new face changes the count or the last id).
    cache_key = (*_filter_key(filters), len(table), int(table["id"].max()))
    if st.toggle("Prepare landmarks.csv for download", key="prepare_csv"):
        st.download_button(
            "Download landmarks.csv",
            _csv(cache_key, store, filters),
            file_name="landmarks.csv",
            mime="text/csv",
            key="download_csv",
        )


def _position(ids: list[int], filters: Filters) -> tuple[int, list[DeltaGenerator]]:
    # A new filter means a new set: start again at its first face (not at the old position's index in the new set).
    if st.session_state.get(FILTER_KEY) != _filter_key(filters):
        st.session_state[FILTER_KEY] = _filter_key(filters)
        st.session_state[POS_KEY] = 0
    pos = state(POS_KEY, 0) % len(ids)
    nav = st.columns([1, 1, 4, 2])
    if nav[0].button("◀ Previous", key="prev", shortcut="Left"):
        pos = (pos - 1) % len(ids)
    if nav[1].button("Next ▶", key="next", shortcut="Right"):
        pos = (pos + 1) % len(ids)
    st.session_state[POS_KEY] = pos
    nav[3].caption(f"Face {pos + 1} of {len(ids)} (arrow keys work too)")
    return pos, nav


def viewer_section(store: Store, filters: Filters, table: pd.DataFrame) -> None:
    ids = [int(i) for i in table["id"]]
    pos, nav = _position(ids, filters)
    found = stored_face(store, ids[pos])
    if found is None:
        st.warning("This image has no landmarks any more; refresh the page.")
        return
    record, face = found
    nav[2].markdown(
        f"**{record.original_name or record.path}** · emotion **{record.emotion or 'unlabeled'}** · "
        f"{record.source} · {record.status}"
    )
    left, right = st.columns([3, 2])
    show_mesh = right.checkbox("Show the mesh", value=True, key="show_mesh")
    left.plotly_chart(face_mesh_3d(face.landmarks, show_mesh=show_mesh), key="mesh3d")
    try:
        right.image(
            draw_landmarks(decode_rgb(store.read_bytes(record)), face.landmarks, mesh=show_mesh),
            caption="Landmarks over the image",
        )
    except (ImageNotReadable, OSError) as exc:
        right.warning(f"The image file cannot be shown: {exc}")
    right.plotly_chart(blendshape_bars(face.blendshapes), key="blendshapes")
