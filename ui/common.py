"""Cached resources and error display shared by every page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from core.errors import StudioError
from core.models.registry import Registry, install_starter
from core.settings import Settings, get_settings
from core.store import Store

log = logging.getLogger("ui")
T = TypeVar("T")


APP_TITLE = "Expression Studio"


def page_setup(title: str, icon: str = ":material/face:") -> None:
    """Page config and title, after resolving who is using the page (which stops it for anonymous visitors). The
    browser tab reads "<page> · Expression Studio" (just "Expression Studio" on Home)."""
    from ui.auth import signed_in_user  # ui.auth uses this module's cached store

    tab = title if title == APP_TITLE else f"{title} · {APP_TITLE}"
    st.set_page_config(page_title=tab, page_icon=icon, layout="wide")
    signed_in_user(sidebar=False)
    st.title(title)


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False)
def _store(url: str, data_root: str) -> Store:
    return Store(get_settings())


def get_store() -> Store:
    """The dataset store, one per process (cached by database URL and data root)."""
    s = get_settings()
    return _store(s.resolved_database_url, str(s.data_root))


def get_registry() -> Registry:
    settings = get_settings()
    install_starter(settings)  # a models folder without the starter model gets it (one stat once it has it)
    return Registry(settings.models_dir)


def run_safely(action: Callable[[], T], *, what: str) -> T | None:
    """Run `action`; show a clear message instead of a traceback when it fails."""
    try:
        return action()
    except StudioError as exc:
        st.error(f"{what} failed: {exc}")
    except Exception as exc:  # unexpected: log the details, show the user a short message
        log.exception("%s failed", what)
        st.error(f"{what} failed unexpectedly ({type(exc).__name__}: {exc}). Details are in the server log.")
    return None


def state(key: str, default: Any) -> Any:
    """Initialise a session-state key once (`if key not in st.session_state`) and return it."""
    if key not in st.session_state:
        st.session_state[key] = default
    return st.session_state[key]
