"""Widgets and the run of the Batch test page. The evaluation is `core.evaluation`, shared with the CLI."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.batch_uploads import stage_uploads, thumbnail_uri
from core.evaluation import evaluate_items, items_from_path
from core.inference import ExpressionModel, Recognizer
from core.landmarks.extractor import LandmarkExtractor
from core.settings import Settings
from core.viz.training import confusion_heatmap

RESULT_KEY = "bt_result"


def run_batch(model: ExpressionModel, settings: Settings, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    """Stage the uploads, evaluate them with a progress bar, and keep what the page shows (the temp files go)."""
    with tempfile.TemporaryDirectory(prefix="batch-test-") as tmp:
        root = Path(tmp)
        staged, refused = stage_uploads(files, root)
        if not staged:
            return {"refused": refused, "empty": True}
        items = items_from_path(root)
        bar = st.progress(0.0, text=f"Testing {len(items)} images…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"Tested {done} of {total} images")

        extractor = LandmarkExtractor(settings, mode="image") if model.needs_landmarks else None
        try:
            result = evaluate_items(Recognizer(model, extractor), items, progress=progress)
        finally:
            if extractor is not None:
                extractor.close()
        bar.empty()
        table = result.predictions.copy()
        table.insert(0, "thumbnail", [thumbnail_uri(Path(p)) for p in table["path"]])
        table["path"] = [
            Path(p).relative_to(root).as_posix() if Path(p).is_relative_to(root) else str(p) for p in table["path"]
        ]
        csv = table.drop(columns=["thumbnail"]).to_csv(index=False).encode()
    return {"table": table, "metrics": result.metrics, "refused": refused, "csv": csv, "model_id": model.card.id}


def show_batch(outcome: dict[str, Any]) -> None:
    for name, reason in outcome.get("refused", []):
        st.warning(f"Skipped {name}: {reason}")
    if outcome.get("empty"):
        st.info("None of the uploads held an image to test.")
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
    missing = table[~table["face_found"].astype(bool)]
    if len(missing):
        st.subheader(f"No face found ({len(missing)})")
        st.dataframe(
            missing[["thumbnail", "path", "label", "error"]],
            hide_index=True,
            key="bt_no_face",
            column_config={"thumbnail": st.column_config.ImageColumn("Image", width="small")},
        )
