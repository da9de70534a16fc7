"""Widgets and the run of the Batch test page. The evaluation is a job (core.batch_evaluation.BATCH_UPLOADS) that a
worker runs on the uploads staged under the data root; the page only stages, submits and shows the job's result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.batch_evaluation import BATCH_UPLOADS, UploadTestParams, UploadTestResult
from core.batch_uploads import remove_upload, stage_upload_folder
from core.evaluation import problem_of
from core.jobs import Job
from core.settings import Settings
from core.viz.training import confusion_heatmap
from ui.jobs import submit

REFUSED_KEY = "bt_refused"


def start_batch(model_id: str, settings: Settings, files: list[tuple[str, bytes]]) -> int | None:
    """Stage the uploads (bad ones are listed, never fatal) and submit the job; the job id, or None when nothing
    could be tested (the reasons are kept for the page to show)."""
    staged = stage_upload_folder(files, settings)
    st.session_state[REFUSED_KEY] = staged.refused
    if not staged.staged:
        return None
    params = UploadTestParams(upload_id=staged.upload_id, model_id=model_id, refused=staged.refused[:1000])
    job_id = submit(BATCH_UPLOADS, params)
    if job_id is None:
        remove_upload(settings, staged.upload_id)  # nobody will run it: don't leave the files behind
    else:
        st.session_state.pop(REFUSED_KEY, None)  # from now on the job's result lists them
    return job_id


def show_refused(refused: list[Any]) -> None:
    for name, reason in refused:
        st.warning(f"Skipped {name}: {reason}")


def outcome_of(job: Job) -> dict[str, Any]:
    """What `show_batch` shows, from a finished job's result and its files in the exports folder."""
    result = job.result_as(UploadTestResult)
    if result is None:
        return {"refused": [], "model_id": None, "missing": True}
    outcome: dict[str, Any] = {"refused": result.refused, "model_id": result.model_id}
    try:
        table = pd.DataFrame(json.loads(Path(result.table_json).read_text()))
        csv = Path(result.predictions_csv).read_bytes()
    except (OSError, ValueError):
        outcome["missing"] = True
        return outcome
    outcome.update(table=table, metrics=result.metrics, csv=csv)
    return outcome


def show_batch(outcome: dict[str, Any]) -> None:
    show_refused(outcome.get("refused", []))
    if outcome.get("missing"):
        st.info("This test's results are no longer in the exports folder: run the test again.")
        return
    table: pd.DataFrame = outcome["table"]
    metrics = outcome["metrics"]
    found = table[table["face_found"].astype(bool)]
    cols = st.columns(4)
    cols[0].metric("Images", len(table))
    cols[1].metric("Faces found", len(found))
    if metrics:
        cols[2].metric("Accuracy", f"{metrics['accuracy']:.1%}")
        cols[3].metric("Macro-F1", f"{metrics['macro_f1']:.3f}")
    else:
        st.caption(
            "No labels in the file or folder names: predictions only (name files like `happy_01.jpg` or put "
            "them in folders named after the emotion to get accuracy and a confusion matrix)."
        )
    st.dataframe(
        table,
        hide_index=True,
        key="bt_table",
        column_config={
            "thumbnail": st.column_config.ImageColumn("Image", width="small"),
            "confidence": st.column_config.ProgressColumn("Confidence", min_value=0.0, max_value=1.0, format="%.2f"),
        },
    )
    st.download_button(
        "Download predictions.csv", outcome["csv"], file_name="predictions.csv", mime="text/csv", key="bt_csv"
    )
    if metrics:
        # The figure carries the "Confusion matrix" title itself: no heading above it.
        st.plotly_chart(confusion_heatmap(metrics["confusion_matrix"], metrics["labels"]), key="bt_confusion")
    errors = table["error"].fillna("").astype(str)
    missing = table[~table["face_found"].astype(bool) & (errors == "")]
    if len(missing):
        st.subheader(f"No face found ({len(missing)})")
        st.dataframe(
            missing[["thumbnail", "path", "label"]],
            hide_index=True,
            key="bt_no_face",
            column_config={"thumbnail": st.column_config.ImageColumn("Image", width="small")},
        )
    failed = table[errors != ""].assign(problem=[problem_of(e) for e in errors[errors != ""]])
    if len(failed):
        # As on the Data page: these were never looked at for a face.
        st.subheader(f"Not tested: too large or unreadable ({len(failed)})")
        st.dataframe(failed[["path", "label", "problem", "error"]], hide_index=True, key="bt_failed")
