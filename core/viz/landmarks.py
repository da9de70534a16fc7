"""Figures of one face: the 3D point cloud with mesh and regions, the blendshape bars, and a 2D overlay image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import plotly.graph_objects as go

from core.landmarks.mesh import REGION_COLORS, point_regions, region_edges, tessellation_edges
from core.schema import BLENDSHAPE_NAMES


def _edge_lines(points: np.ndarray, edges: np.ndarray) -> tuple[list[float | None], ...]:
    """x, y, z lists for one line trace: each edge followed by a None break."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    zs: list[float | None] = []
    for a, b in edges:
        xs += [float(points[a, 0]), float(points[b, 0]), None]
        ys += [float(points[a, 1]), float(points[b, 1]), None]
        zs += [float(points[a, 2]), float(points[b, 2]), None]
    return xs, ys, zs


def face_mesh_3d(landmarks: np.ndarray, *, title: str = "", show_mesh: bool = True) -> go.Figure:
    """The 478 landmarks as a 3D point cloud coloured by region, with tessellation and region contours."""
    # Image coordinates grow downwards and MediaPipe's z grows away from the camera: flip both so the face is
    # upright and faces the viewer.
    pts = np.column_stack([landmarks[:, 0], -landmarks[:, 1], -landmarks[:, 2]])
    fig = go.Figure()
    if show_mesh:
        x, y, z = _edge_lines(pts, tessellation_edges())
        fig.add_trace(
            go.Scatter3d(
                x=x, y=y, z=z, mode="lines", name="mesh", line={"color": "#d0d7de", "width": 1}, hoverinfo="skip"
            )
        )
    for region, edges in region_edges().items():
        x, y, z = _edge_lines(pts, edges)
        fig.add_trace(
            go.Scatter3d(
                x=x,
                y=y,
                z=z,
                mode="lines",
                name=region,
                line={"color": REGION_COLORS[region], "width": 4},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    regions = np.array(point_regions())
    for region, color in REGION_COLORS.items():
        idx = np.flatnonzero(regions == region)
        if idx.size == 0:
            continue
        fig.add_trace(
            go.Scatter3d(
                x=pts[idx, 0],
                y=pts[idx, 1],
                z=pts[idx, 2],
                mode="markers",
                name=region,
                marker={"size": 2.5, "color": color},
                text=[f"landmark {i}" for i in idx],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        title=title,
        height=620,
        margin={"l": 0, "r": 0, "t": 40 if title else 10, "b": 0},
        scene={
            "aspectmode": "data",
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "zaxis": {"visible": False},
            "camera": {"eye": {"x": 0, "y": 0, "z": 1.6}, "up": {"x": 0, "y": 1, "z": 0}},
        },
        legend={"orientation": "h"},
    )
    return fig


def blendshape_bars(blendshapes: np.ndarray, *, top: int = 12) -> go.Figure:
    """The strongest blendshapes as horizontal bars (the neutral score left out)."""
    scores = {name: float(v) for name, v in zip(BLENDSHAPE_NAMES, blendshapes, strict=True) if name != "_neutral"}
    best = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:top][::-1]
    fig = go.Figure(go.Bar(x=[v for _, v in best], y=[k for k, _ in best], orientation="h", marker_color="#0984e3"))
    fig.update_layout(
        height=40 + 24 * len(best),
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        title="Strongest blendshapes",
        xaxis={"range": [0, 1]},
    )
    return fig


def draw_landmarks(rgb: np.ndarray, landmarks: np.ndarray, *, mesh: bool = True) -> np.ndarray:
    """A copy of the image with the mesh (thin) and landmark points drawn on it."""
    out = rgb.copy()
    h, w = out.shape[:2]
    pts = np.round(landmarks[:, :2] * [w, h]).astype(np.int32)
    face_w = float(np.ptp(pts[:, 0])) or 1.0
    thickness = max(1, round(face_w / 150))
    if mesh:
        # The mesh is dense: blend it in lightly so the face stays visible underneath.
        layer = out.copy()
        cv2.polylines(layer, [pts[np.asarray(e)] for e in tessellation_edges()], False, (235, 240, 245), 1, cv2.LINE_AA)
        out = cv2.addWeighted(layer, 0.35, out, 0.65, 0)
    for region, edges in region_edges().items():
        color = tuple(int(REGION_COLORS[region][i : i + 2], 16) for i in (1, 3, 5))
        cv2.polylines(out, [pts[np.asarray(e)] for e in edges], False, color, thickness, cv2.LINE_AA)
    return out


def counts_bar(counts: Mapping[str, int], *, title: str, order: Sequence[str] = ()) -> go.Figure:
    """A bar chart of counts, in `order` first and then any other keys."""
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    fig = go.Figure(go.Bar(x=keys, y=[counts[k] for k in keys], marker_color="#6c5ce7", text=[counts[k] for k in keys]))
    fig.update_layout(title=title, height=300, margin={"l": 0, "r": 0, "t": 40, "b": 0})
    return fig
