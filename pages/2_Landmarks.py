"""Landmarks: the landmark table with filters and CSV download, and the 3D face viewer (the seed's arrow-key
point-cloud viewer: Left/Right step through the filtered set)."""

from __future__ import annotations

import streamlit as st

from core.errors import ImageNotReadable
from core.export import landmark_table
from core.imaging import decode_rgb
from core.schema import EMOTIONS, EXTRACTION_OK, SOURCES, STATUSES
from core.store.repository import Filters, face_from_row
from core.store.views import record_table
from core.viz.landmarks import blendshape_bars, draw_landmarks, face_mesh_3d
from ui.common import get_store, page_setup, state

page_setup("Landmarks", icon=":material/3d_rotation:")
store = get_store()

with st.sidebar:
    st.header("Filter")
    emotions = st.multiselect("Emotion", EMOTIONS, key="f_emotion")
    sources = st.multiselect("Source", SOURCES, key="f_source")
    statuses = st.multiselect("Status", STATUSES, key="f_status")
filters = Filters(emotions=emotions, sources=sources, statuses=statuses, extraction_states=[EXTRACTION_OK])

table = record_table(store, filters)
if table.empty:
    st.info(
        "No faces with landmarks match. Import images and run the extraction on the **Data** page "
        "(or `python -m core import FOLDER --extract`)."
    )
    st.stop()

st.caption(f"{len(table)} faces with landmarks. Click a column header to sort.")
st.dataframe(table.drop(columns=["landmarks"]), hide_index=True, key="landmark_table", height=260)


@st.cache_data(show_spinner="Building landmarks.csv…", max_entries=4)
def csv_bytes(key: tuple[object, ...], _filters: Filters) -> bytes:
    return landmark_table(store, _filters).to_csv(index=False, float_format="%.6g").encode()


cache_key = (tuple(emotions), tuple(sources), tuple(statuses), len(table), int(table["id"].max()))
if st.toggle("Prepare landmarks.csv for download", key="prepare_csv"):
    st.download_button(
        "Download landmarks.csv",
        csv_bytes(cache_key, filters),
        file_name="landmarks.csv",
        mime="text/csv",
        key="download_csv",
    )

st.divider()
ids = table["id"].tolist()
# A new filter means a new set: start again at its first face (not at the old position's index in the new set).
filter_key = (tuple(emotions), tuple(sources), tuple(statuses))
if st.session_state.get("viewer_filter") != filter_key:
    st.session_state["viewer_filter"] = filter_key
    st.session_state["viewer_pos"] = 0
pos = state("viewer_pos", 0) % len(ids)
nav = st.columns([1, 1, 4, 2])
if nav[0].button("◀ Previous", key="prev", shortcut="Left"):
    pos = (pos - 1) % len(ids)
if nav[1].button("Next ▶", key="next", shortcut="Right"):
    pos = (pos + 1) % len(ids)
st.session_state["viewer_pos"] = pos
nav[3].caption(f"Face {pos + 1} of {len(ids)} (arrow keys work too)")

record = store.get(int(ids[pos]))
face = face_from_row(record.extraction) if record is not None and record.extraction is not None else None
if record is None or face is None:
    st.warning("This image has no landmarks any more; refresh the page.")
    st.stop()

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
