"""Silencing the native libraries' start-up chatter (MediaPipe's glog lines, TFLite's "Created TensorFlow Lite
XNNPACK delegate") that they write straight to file descriptor 2, where Python's logging cannot filter it."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

VERBOSE_ENV = "STUDIO_VERBOSE"  # set (to 1) by `python -m core --verbose`; inherited by worker processes


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hold back what native code writes to stderr inside the block, unless STUDIO_VERBOSE is set; if the block
    fails, what was held back is written after all (it may explain the failure)."""
    if verbose():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (a closed or replaced descriptor): nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                held.seek(0)
                os.write(2, held.read()[-8192:])
