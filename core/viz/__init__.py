"""Plotly figure builders. Each returns a go.Figure; pages only render them (tests check `fig.data` offline).

Import the submodule you need (`core.viz.training`, `core.viz.landmarks`): nothing is imported eagerly here.
"""
