"""Active-learning figures: the rounds history (macro-F1 against labels) and the uncertainty-vs-random curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import plotly.graph_objects as go

from core.active_learning.simulation import SimulationResult


class RoundPoint(Protocol):
    n_labels: int
    macro_f1: float
    held_out_hash: str
    model_name: str


def history_figure(rounds: Sequence[RoundPoint], *, height: int = 360) -> go.Figure:
    """Macro-F1 on the held-out set against the number of training labels, one line per held-out set (rounds
    measured on different held-out sets are not comparable, so they are never joined)."""
    fig = go.Figure()
    by_set: dict[str, list[RoundPoint]] = {}
    for r in rounds:
        by_set.setdefault(r.held_out_hash, []).append(r)
    for i, (key, points) in enumerate(by_set.items()):
        name = "rounds" if len(by_set) == 1 else f"held-out set {i + 1} ({key[:6]})"
        fig.add_trace(
            go.Scatter(
                x=[p.n_labels for p in points],
                y=[p.macro_f1 for p in points],
                mode="lines+markers",
                name=name,
                text=[p.model_name for p in points],
                hovertemplate="%{x} labels: macro-F1 %{y:.3f} (%{text})<extra></extra>",
            )
        )
    fig.update_layout(
        height=height,
        xaxis_title="labeled training faces",
        yaxis_title="macro-F1 (held-out set)",
        yaxis_range=[0, 1],
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    xs = sorted({r.n_labels for r in rounds})
    if len(xs) == 1:
        # One point: Plotly would zoom to x +- 1 (e.g. 239 to 241); show it within a range that reads as counts.
        fig.update_xaxes(range=[0, max(10, int(xs[0] * 1.2) + 1)])
    return fig


SIMULATION_COLORS: Mapping[str, str] = {"uncertainty": "#d62728", "random": "#7f7f7f"}


def simulation_figure(result: SimulationResult, *, height: int = 360) -> go.Figure:
    """Two curves, uncertainty sampling and random sampling, macro-F1 against revealed labels; a dotted line marks
    the labels uncertainty sampling needs to match random's final macro-F1."""
    n = min(len(result.labels), len(result.uncertainty_f1), len(result.random_f1))
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=result.labels[:n],
            y=result.uncertainty_f1[:n],
            mode="lines+markers",
            name=f"uncertainty ({result.strategy})",
            line={"color": SIMULATION_COLORS["uncertainty"]},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=result.labels[:n],
            y=result.random_f1[:n],
            mode="lines+markers",
            name="random",
            line={"color": SIMULATION_COLORS["random"], "dash": "dash"},
        )
    )
    needed = result.labels_to_match_random()
    if needed is not None and n:
        fig.add_vline(x=needed, line_dash="dot", annotation_text=f"{needed} labels match random's final F1")
    fig.update_layout(
        height=height,
        xaxis_title="revealed labels",
        yaxis_title="macro-F1 (held-out set)",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return fig
