"""Plotly figure builders. Pages only render what these return; tests check `fig.data` offline."""

from core.viz.training import comparison_bar, confusion_heatmap, learning_curves, per_class_f1

__all__ = ["comparison_bar", "confusion_heatmap", "learning_curves", "per_class_f1"]
