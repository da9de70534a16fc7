"""Where long work runs: one `Executor` chosen from Settings.executor (inline, local processes, or a Ray cluster).

`executor` holds the executors and their few operations (map chunks over workers, predict in blocks, a grid
search's backend, one task for torch training); `local` the local process pool; `cluster` is the one place that
connects to Ray; `fanout` the Ray operations. Call sites use `executor_for(settings)` and never ask which it is.
"""

from core.executors.cluster import connect
from core.executors.executor import Executor, executor_for

__all__ = ["Executor", "connect", "executor_for"]
