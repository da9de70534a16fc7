"""Where long work runs: the local executor (this machine's processes, the default) or a Ray cluster.

`cluster` is the one place that connects to Ray; `fanout` holds the helpers that spread extraction, scoring,
evaluation, grid searches and torch training over it. Core functions call these helpers only when
`Settings.executor == "ray"`, so the local path stays what it was.
"""

from core.executors.cluster import connect, uses_ray

__all__ = ["connect", "uses_ray"]
