"""The one Gemini key widget of the Generate and Active-learning pages.

In team mode the key comes only from the server's settings: a visitor can neither type one nor spend one they do
not have the role for. In local mode a key typed here lives in this browser session's memory only.
"""

from __future__ import annotations

import streamlit as st

from core.settings import Settings


def gemini_key_ui(settings: Settings, *, key: str, disabled_what: str) -> str | None:
    """The key to use, or None when there is none (`disabled_what` names what stays off without it)."""
    if settings.gemini_api_key is not None:
        st.caption(":material/key: Gemini API key configured in the settings.")
        return settings.gemini_api_key.get_secret_value()
    if settings.team_mode:
        st.info(
            f"No Gemini API key is configured on this server, so {disabled_what} is disabled. The operator sets "
            "`GEMINI_API_KEY` in the server's environment or `.streamlit/secrets.toml`."
        )
        return None
    st.info(
        f"No Gemini API key is configured, so {disabled_what} is disabled (the rest of the app works without one). "
        "Set `GEMINI_API_KEY` (or `GOOGLE_API_KEY`) in the environment or in `.env`, or put "
        '`GEMINI_API_KEY = "..."` in `.streamlit/secrets.toml` and restart; or type a key below: it is kept in '
        "this browser session's memory only, never written to disk or logged."
    )
    typed = st.text_input("Gemini API key (this session only)", type="password", key=key)
    return typed.strip() or None
