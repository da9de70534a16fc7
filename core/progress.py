"""The one progress-callback type of core: `progress(done, total, message)`.

Long functions report through it (a message is optional for those that have nothing to say); the CLI turns it into
a tqdm bar and a job into its progress columns.
"""

from __future__ import annotations

from typing import Protocol


class ProgressFn(Protocol):
    def __call__(self, done: int, total: int, message: str = "", /) -> None: ...
