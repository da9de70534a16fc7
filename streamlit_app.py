"""Expression Studio: the entry point. Declares the pages (navigation) and draws the home page: what is in the
store, which models exist, and where to go next."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from core.auth import Permission
from core.schema import (
    EMOTIONS,
    EXTRACTION_ERROR,
    EXTRACTION_NO_FACE,
    EXTRACTION_OK,
    EXTRACTION_PENDING,
    SOURCES,
    STATUSES,
)
from core.store import Store
from core.viz.landmarks import counts_bar
from ui.auth import resume_deep_link, signed_in_user
from ui.common import get_registry, get_store, page_setup, settings

ROOT = Path(__file__).parent
# (file, title, what it is for, icon); a page whose file is missing is simply not listed.
PAGES = [
    (
        "pages/1_Data.py",
        "Data",
        "import images, zips, folders or YOLO datasets; extract landmarks",
        ":material/upload:",
    ),
    ("pages/2_Landmarks.py", "Landmarks", "the landmark table and the 3D face viewer", ":material/3d_rotation:"),
    ("pages/3_Generate.py", "Generate", "synthetic portraits from Gemini", ":material/auto_awesome:"),
    (
        "pages/4_Train.py",
        "Train",
        "compare landmark models, fine-tune ResNet-50, train the detector",
        ":material/model_training:",
    ),
    (
        "pages/5_Active_Learning.py",
        "Active learning",
        "label the hardest cases with Gemini and people",
        ":material/rule:",
    ),
    ("pages/6_Live.py", "Live", "webcam detection in the browser", ":material/videocam:"),
    ("pages/7_Batch_Test.py", "Batch test", "evaluate a model on a folder of images", ":material/fact_check:"),
    ("pages/9_Jobs.py", "Jobs", "recent jobs: status, owner, duration, progress, errors", ":material/work_history:"),
    ("pages/10_API_keys.py", "API keys", "keys for the REST API: create, list, revoke", ":material/key:"),
]
# Shown only to roles that may use them.
RESTRICTED_PAGES = [
    (
        "pages/8_Users.py",
        "Users",
        "who may sign in, their roles and last sign-in",
        ":material/group:",
        Permission.MANAGE_USERS,
    ),
]


def home() -> None:
    page_setup("Expression Studio", icon=":material/sentiment_satisfied:")
    st.caption(
        "From no data to a live facial-expression recognizer: generate or import faces, extract landmarks, "
        "train and compare models, improve them with active learning, and detect expressions live."
    )
    store = get_store()
    _store_summary(store)
    _models_table()
    st.subheader("Where to go next")
    for path, label, what, icon in visible:
        if (ROOT / path).is_file():
            st.page_link(path, label=f"{label}: {what}", icon=icon)
    _configuration(store)


def _store_summary(store: Store) -> None:
    """What is in the store: counts, extraction state, and charts by emotion, source and status."""
    total = store.count()
    extraction = store.extraction_counts()

    cols = st.columns(4)
    cols[0].metric("Images", total)
    cols[1].metric("With landmarks", extraction.get(EXTRACTION_OK, 0))
    cols[2].metric("No face / errors", extraction.get(EXTRACTION_NO_FACE, 0) + extraction.get(EXTRACTION_ERROR, 0))
    cols[3].metric("Awaiting extraction", extraction.get(EXTRACTION_PENDING, 0))

    if total == 0:
        st.info(
            "The store is empty. Import images on the **Data** page (or `python -m core import FOLDER`), "
            "or generate synthetic portraits on the **Generate** page."
        )
    else:
        left, mid, right = st.columns(3)
        left.plotly_chart(
            counts_bar(store.counts_by("emotion"), title="By emotion", order=[*EMOTIONS, "unlabeled"]), key="by_emotion"
        )
        mid.plotly_chart(counts_bar(store.counts_by("source"), title="By source", order=SOURCES), key="by_source")
        right.plotly_chart(counts_bar(store.counts_by("status"), title="By status", order=STATUSES), key="by_status")


def _models_table() -> None:
    """The models on disk, the active one ticked."""
    st.subheader("Models")
    registry = get_registry()
    cards = registry.list()
    active = registry.active_id()
    if not cards:
        st.info("No trained models yet. Train one on the **Train** page.")
        return
    st.dataframe(
        [
            {
                "id": c.id,
                "active": "✓" if c.id == active else "",
                "kind": c.kind,
                "name": c.name,
                "classes": len(c.classes),
                "macro-F1": c.metrics.get("macro_f1"),
                "mAP@0.5": c.metrics.get("map50"),
                "accuracy": c.metrics.get("accuracy", c.metrics.get("emotion_accuracy")),
                "created": c.created_at.strftime("%Y-%m-%d %H:%M"),
            }
            for c in cards
        ],
        hide_index=True,
        key="models_table",
    )


def _configuration(store: Store) -> None:
    with st.expander("Configuration"):
        s = settings()
        st.write(f"Data root: `{s.data_root}`")
        st.write(f"Database: `{store.engine.url.render_as_string(hide_password=True)}`")
        st.write(f"Models: `{s.models_dir}`")
        st.write("Gemini key: " + ("set" if s.has_gemini_key else "not set (generation and LLM labeling are disabled)"))
        st.write("Sign-in: " + ("team mode (OIDC sign-in, roles)" if s.team_mode else "local mode (one local user)"))


def _role_needed(title: str, permission: Permission) -> Callable[[], None]:
    """The page a signed-in user gets at a page's URL their role may not see: says so, instead of a silent Home."""

    def page() -> None:
        page_setup(title)
        role = permission.least_role.label
        st.warning(
            f"{role.capitalize()}s only: the {title} page needs the {role} role, and you are a "
            f"{user.role.label}. Ask an admin if you need it."
        )

    return page


# Nobody sees any page, not even the navigation, before signing in (team mode): signed_in_user stops the script
# for anonymous visitors, and the navigation below is built only after that decision.
user = signed_in_user()
visible = [(p, t, w, i) for p, t, w, i in PAGES if (ROOT / p).is_file()]
pages = [st.Page(home, title="Home", icon=":material/home:", default=True)]
pages += [st.Page(path, title=title, icon=icon) for path, title, _, icon in visible]
for path, title, what, icon, needed in RESTRICTED_PAGES:
    if user.can(needed):
        visible.append((path, title, what, icon))
        pages.append(st.Page(path, title=title, icon=icon))
    else:  # the URL still answers (with what role it needs) but the page is not listed
        url_path = st.Page(path).url_path
        pages.append(st.Page(_role_needed(title, needed), title=title, url_path=url_path, visibility="hidden"))
# Streamlit's own menu is off (client.showSidebarNavigation = false): left on, it lists every file of pages/ for the
# whole first run of each session, before anyone has signed in. The sidebar lists what this user may open.
navigation = st.navigation(pages, position="hidden")
with st.sidebar:
    for page in pages:
        if page.visibility == "visible":
            st.page_link(page)
resume_deep_link(navigation)
navigation.run()
