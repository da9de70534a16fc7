"""Figures of the live page, built here so that they are tested offline on `fig.data`."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from core.live.overlay import colour_of


def probability_figure(probabilities: Mapping[str, float], *, height: int = 280) -> go.Figure:
    """Horizontal bars of class probabilities, largest on top, coloured like the video overlay."""
    items = sorted(probabilities.items(), key=lambda kv: kv[1])
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in items],
            y=[k for k, _ in items],
            orientation="h",
            marker_color=[f"rgb{colour_of(k)}" for k, _ in items],
            text=[f"{v:.0%}" for _, v in items],
            textposition="auto",
        )
    )
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis={"range": [0, 1], "tickformat": ".0%"}
    )
    return fig
