"""A progress callback that drives `st.progress` (core's one `ProgressFn`: done, total and an optional message)."""

from __future__ import annotations

import time

import streamlit as st

from core.progress import ProgressFn


def progress_bar(label: str) -> ProgressFn:
    bar = st.progress(0.0, text=label)
    last = [0.0]

    def update(done: int, total: int, message: str = "", /) -> None:
        now = time.monotonic()
        # Redrawing on every image would flood the websocket; a few updates a second is plenty.
        if done < total and now - last[0] < 0.25:
            return
        last[0] = now
        bar.progress(min(1.0, done / total) if total else 1.0, text=f"{label}: {done}/{total}")

    return update
