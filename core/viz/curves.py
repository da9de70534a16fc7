"""Learning curves of the torch models and the pipeline comparison chart (Plotly figures built offline)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

RESNET_LOSSES = ("train_loss", "val_loss")
RESNET_METRICS = ("train_accuracy", "val_accuracy", "val_macro_f1")
DETECTOR_LOSSES = ("train_loss", "val_loss")
DETECTOR_METRICS = ("map50", "emotion_accuracy", "face_recall")


def learning_curves(
    history: Sequence[Mapping[str, Any]],
    *,
    losses: Sequence[str] = RESNET_LOSSES,
    metrics: Sequence[str] = RESNET_METRICS,
    title: str = "Learning curves",
) -> go.Figure:
    """Loss (left) and metrics (right) per epoch; epochs where a value was not computed are skipped."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    for col, keys in ((1, losses), (2, metrics)):
        for key in keys:
            points = [(h["epoch"], h[key]) for h in history if h.get(key) is not None]
            if not points:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[p[0] for p in points],
                    y=[p[1] for p in points],
                    mode="lines+markers",
                    name=key.replace("_", " "),
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_layout(title=title, height=360, margin={"t": 60, "b": 40})
    return fig


def comparison_chart(scores: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Grouped bars of emotion accuracy and face recall per pipeline, with ms per image in the hover and labels."""
    names = [str(s["name"]) for s in scores]
    fig = go.Figure()
    for key, label in (("emotion_accuracy", "emotion accuracy (matched faces)"), ("face_recall", "face recall")):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[float(s[key]) for s in scores],
                name=label,
                text=[f"{float(s[key]):.2f}" for s in scores],
                customdata=[float(s["ms_per_image"]) for s in scores],
                hovertemplate="%{x}: %{y:.3f}<br>%{customdata:.1f} ms per image<extra></extra>",
            )
        )
    fig.update_layout(barmode="group", yaxis={"range": [0, 1]}, title="Same held-out images", height=360)
    return fig
