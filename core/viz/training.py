"""Figures of training results: model comparison, confusion matrix, per-class F1, learning curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.training.report import ModelReport


def comparison_bar(reports: Sequence[ModelReport]) -> go.Figure:
    """Grouped bars per model: CV macro-F1 (with ± std error bars), held-out accuracy and held-out macro-F1."""
    names = [f"{r.name} ({'+'.join(r.feature_sets)})" for r in reports]
    fig = go.Figure(
        [
            go.Bar(
                name="CV macro-F1",
                x=names,
                y=[r.cv_mean for r in reports],
                error_y={"type": "data", "array": [r.cv_std for r in reports], "visible": True},
            ),
            go.Bar(name="held-out accuracy", x=names, y=[r.accuracy for r in reports]),
            go.Bar(name="held-out macro-F1", x=names, y=[r.macro_f1 for r in reports]),
        ]
    )
    fig.update_layout(
        barmode="group",
        yaxis={"range": [0, 1], "title": "score"},
        title="Model comparison",
        legend={"orientation": "h"},
    )
    return fig


def confusion_heatmap(
    matrix: Sequence[Sequence[int]],
    labels: Sequence[str],
    title: str = "Confusion matrix",
    normalize: bool = True,
    columns: Sequence[str] | None = None,
) -> go.Figure:
    """Rows are true labels, columns predictions (`columns` when they differ from the rows, e.g. with a "(no face)"
    column). With `normalize`, colours show the share of each true class and the cell text the raw counts."""
    columns = list(labels) if columns is None else list(columns)
    counts = np.asarray(matrix, dtype=float).reshape(len(labels), len(columns))
    if normalize:
        sums = counts.sum(axis=1, keepdims=True)
        z = np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0)
    else:
        z = counts
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=columns,
            y=list(labels),
            text=counts.astype(int),
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalize else None,
            hovertemplate="true %{y}<br>predicted %{x}<br>count %{text}<extra></extra>",
        )
    )
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true", yaxis={"autorange": "reversed"})
    return fig


def per_class_f1(reports: Sequence[ModelReport]) -> go.Figure:
    """One bar group per emotion, one bar per model."""
    fig = go.Figure()
    for r in reports:
        labels = list(r.labels)
        fig.add_bar(name=r.name, x=labels, y=[r.per_class.get(label, {}).get("f1", 0.0) for label in labels])
    fig.update_layout(barmode="group", title="Per-class F1 (held out)", yaxis={"range": [0, 1], "title": "F1"})
    return fig


def learning_curves(history: Mapping[str, Sequence[Any]]) -> go.Figure:
    """Loss and accuracy per epoch from a history dict such as {"epoch": [...], "train_loss": [...],
    "val_loss": [...], "train_acc": [...], "val_acc": [...]} (any subset); accuracies go on the right axis."""
    epochs = list(history.get("epoch") or range(1, 1 + max((len(v) for v in history.values()), default=0)))
    fig = go.Figure()
    for key, values in history.items():
        if key == "epoch" or not values:
            continue
        is_acc = "acc" in key
        fig.add_scatter(
            x=epochs[: len(values)], y=list(values), mode="lines+markers", name=key, yaxis="y2" if is_acc else "y"
        )
    fig.update_layout(
        title="Learning curves",
        xaxis_title="epoch",
        yaxis={"title": "loss"},
        yaxis2={"title": "accuracy", "overlaying": "y", "side": "right", "range": [0, 1]},
    )
    return fig
