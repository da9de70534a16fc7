"""Widgets of the Data page: uploads, server-side imports (a job), landmark extraction (a job) and the images
flagged after it. The imports themselves are `core.ingest`; the path check is `core.import_roots.check_import`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core import ingest
from core.auth import Permission, allowed
from core.import_job import IMPORT, ImportParams, ImportResult
from core.import_roots import ImportRoots, check_import
from core.import_targets import ImportKind
from core.landmarks.kinds import EXTRACTION, ExtractionParams
from core.layouts import AUTO, LAYOUTS, check_layout_import
from core.schema import EMOTIONS, EXTRACTION_ERROR, EXTRACTION_NO_FACE, EXTRACTION_OK, EXTRACTION_PENDING
from core.store import Store
from core.store.views import NOTE, PROBLEM, placement_table, problem_table
from ui.auth import fragment, needs
from ui.common import run_safely
from ui.jobs import REFRESH_S, extraction_result, job_panel, latest_job, submit

FROM_NAME = "from file name or folder"
UNLABELED = "unlabeled (pool)"
SERVER_KINDS: dict[str, ImportKind] = {
    "Folder": "folder",
    "Manifest CSV": "manifest",
    "YOLO dataset": "yolo",
    "Public dataset": "layout",
}


def show_report(store: Store, report: ingest.ImportReport) -> None:
    (st.success if report.added else st.info)(f"Import finished: {report.summary()}.")
    if report.image_ids:
        placed = placement_table(store, report.image_ids[:500])
        st.dataframe(placed, hide_index=True, key="placed")
    if report.skipped:
        st.warning(f"{len(report.skipped)} file(s) skipped:")
        st.dataframe([{"file": n, "reason": r} for n, r in report.skipped], hide_index=True, key="skipped")
    if report.conflicts:
        st.warning(f"{len(report.conflicts)} duplicate(s) with another label (the stored label was kept):")
        rows = [{"file": n, "stored label": a, "label here": b} for n, a, b in report.conflicts]
        st.dataframe(rows, hide_index=True, key="conflicts")
    for warning in report.warnings[:20]:
        st.caption(f"⚠ {warning}")


def upload_section(store: Store) -> None:
    files = st.file_uploader(
        "Images or .zip archives",
        type=["jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff", "zip"],
        accept_multiple_files=True,
        key="upload_files",
        help="Labels come from the seed's file-name tag (happy_0042.jpg, surprise-12.png) or, inside a zip, from "
        "the folder name. Files without a label go to the unlabeled pool.",
    )
    label_choice = st.selectbox("Label", [FROM_NAME, *EMOTIONS, UNLABELED], key="upload_label")
    if not st.button("Import", key="upload_import", type="primary", disabled=not files):
        return
    uploads = [(f.name, f.getvalue()) for f in files or []]
    emotion = label_choice if label_choice in EMOTIONS else None
    report = run_safely(
        lambda: ingest.import_uploads(store, uploads, emotion=emotion, pool=label_choice == UNLABELED),
        what="Import",
    )
    if report is not None:
        show_report(store, report)


def _server_path_ui(roots: ImportRoots) -> tuple[str, ImportKind, str]:
    st.caption(
        "A folder, manifest CSV (path,label[,person]), YOLO dataset or public dataset (FER2013, CK+, JAFFE, "
        "RAF-DB, AffectNet-style folders, KDEF) on the machine that runs the dashboard; " + roots.describe() + "."
    )
    path_text = st.text_input("Path", key="server_path", placeholder="/data/faces or /data/fer-yolo")
    kind = SERVER_KINDS[str(st.radio("Kind", list(SERVER_KINDS), horizontal=True, key="server_kind"))]
    layout = AUTO
    if kind == "layout":
        layout = st.selectbox(
            "Layout",
            [AUTO, *LAYOUTS],
            key="server_layout",
            format_func=lambda n: "detect it" if n == AUTO else LAYOUTS[n].description,
        )
    return path_text, kind, str(layout)


def server_section(store: Store) -> None:
    roots = ImportRoots.from_settings(store.settings)
    path_text, kind, layout = _server_path_ui(roots)
    path = Path(path_text).expanduser()
    # The roots are checked first, so the page never tells whether a path outside them exists.
    missing = bool(path_text) and roots.allows(path) and not path.exists()
    if missing:
        st.error(f"{path} does not exist on the server.")
    busy_import = (last := latest_job(IMPORT)) is not None and not last.finished
    clicked = st.button("Import from path", key="server_import", disabled=not path_text or missing or busy_import)
    # A refused path is said at once (the job makes the same check); otherwise a worker reads the files and the
    # panel below follows it, also after a reload.
    if (
        clicked
        and run_safely(lambda: _check(roots, path, kind, layout), what="Import") is not None
        and submit(IMPORT, ImportParams(path=str(path), kind=kind, layout=layout)) is not None
    ):
        st.rerun()
    job_panel(IMPORT, lambda job: show_report(store, ImportResult.report_of(job.result_as(ImportResult))), key="import")


def _check(roots: ImportRoots, path: Path, kind: str, layout: str | None) -> Path:
    return check_layout_import(roots, path, layout) if kind == "layout" and layout else check_import(roots, path, kind)


def import_section(store: Store) -> None:
    if not allowed(Permission.IMPORT):
        needs(Permission.IMPORT, "Importing images")
        return
    upload_tab, server_tab = st.tabs(["Upload", "From the server"])
    with upload_tab:
        upload_section(store)
    with server_tab:
        server_section(store)


def _extraction_counters(store: Store) -> None:
    now = store.extraction_counts()
    cols = st.columns(4)
    cols[0].metric("Pending", now.get(EXTRACTION_PENDING, 0))
    cols[1].metric("Faces", now.get(EXTRACTION_OK, 0))
    cols[2].metric("No face", now.get(EXTRACTION_NO_FACE, 0))
    cols[3].metric("Errors", now.get(EXTRACTION_ERROR, 0))


def extraction_section(store: Store) -> None:
    st.subheader("Landmark extraction")
    running = latest_job(EXTRACTION)
    busy = running is not None and not running.finished
    # While an extraction runs the counters follow it (the job panel below reruns the page once it finishes).
    fragment(_extraction_counters, run_every=REFRESH_S if busy else None)(store)
    counts = store.extraction_counts()
    retry = st.checkbox("Also retry images that failed", key="extract_retry")
    todo = counts.get(EXTRACTION_PENDING, 0) + (counts.get(EXTRACTION_ERROR, 0) if retry else 0)
    st.caption(
        "Runs in a job worker, not in the dashboard: closing the tab or restarting the server loses nothing; "
        "finished images are saved in chunks, and a cancelled or interrupted job resumes with the rest."
    )
    if not allowed(Permission.EXTRACT):
        needs(Permission.EXTRACT, "Extraction")
    elif (
        st.button(f"Extract landmarks ({todo} images)", key="extract_run", type="primary", disabled=todo == 0 or busy)
        and submit(EXTRACTION, ExtractionParams(retry_failed=retry)) is not None
    ):
        st.rerun()
    job_panel(EXTRACTION, extraction_result, key="extract")


def flagged_section(store: Store) -> None:
    """Images without usable landmarks (open), then images used with a remark."""
    flagged = problem_table(store)
    problems = flagged[flagged["kind"] == PROBLEM].drop(columns=["kind"])
    notes = flagged[flagged["kind"] == NOTE].drop(columns=["kind"])
    if not problems.empty:
        # Problems first and open: these images have no usable face (no face found, unreadable file).
        with st.expander(f"Problems: images without usable landmarks ({len(problems)})", expanded=True):
            st.dataframe(problems, hide_index=True, key="problems")
    if not notes.empty:
        with st.expander(f"Notes: images used with a remark, e.g. a padded tight crop ({len(notes)})"):
            st.dataframe(notes, hide_index=True, key="notes")
