"""Plotly figure builders. Each returns a go.Figure; pages only render them."""
