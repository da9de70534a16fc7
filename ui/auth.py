"""Who is using the dashboard: resolves the signed-in user once per script run (Streamlit's st.login in team mode,
the implicit local user in local mode), makes them the acting user of `core`, and draws the sign-in screen, the
sidebar identity and the sign-out button."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from core.auth import LOCAL_USER, Permission, PermissionDenied, User, current_user
from core.auth.claims import claims_to_read, identity_from_claims
from core.auth.hosting import hosting_problem
from core.auth.identity import set_current_user
from core.auth.users import lookup, sign_in
from core.settings import Settings, get_settings
from ui.common import get_store

_SIGNED_IN = "auth_signed_in"  # the identity whose sign-in was recorded in this browser session


def _logged_in() -> bool:
    # st.user has no attributes at all outside a real server session (AppTest); getattr keeps that quiet.
    return bool(getattr(st.user, "is_logged_in", False))


def _identity(settings: Settings) -> str | None:
    """The signed-in identity (core.auth.claims decides), None when nobody is signed in; `PermissionDenied` when the
    provider's claims may not be used (no e-mail, or an unverified one)."""
    if not _logged_in():
        return None
    claim = settings.identity_claim
    return identity_from_claims({name: st.user.get(name) for name in claims_to_read(claim)}, claim)


def _request_headers() -> dict[str, str]:
    """This request's HTTP headers (none under AppTest)."""
    try:
        return dict(st.context.headers or {})
    except Exception:  # no request context (AppTest, a bare script run)
        return {}


def _streamlit_auth() -> bool:
    """Whether Streamlit has an [auth] section from any secrets file it reads (`secrets.files` included)."""
    try:
        return st.secrets.load_if_toml_exists() and "auth" in st.secrets
    except Exception:  # an unreadable secrets file: Streamlit reports it itself
        return False


def _sign_in_screen() -> None:
    st.title("Expression Studio")
    st.info("This is a team server: sign in to continue.")
    st.button("Sign in", key="auth_login", type="primary", on_click=st.login)


def _refused(message: str) -> None:
    st.title("Expression Studio")
    st.error(message)
    st.button("Sign out", key="auth_logout_refused", on_click=st.logout)


def _team_user(settings: Settings) -> User | None:
    engine = get_store().engine
    try:
        identity = _identity(settings)
        if identity is None:
            _sign_in_screen()
            return None
        if st.session_state.get(_SIGNED_IN) == identity:
            # The role is read again on every run, so a role change applies at the next click.
            user = lookup(engine, identity) or sign_in(engine, settings, identity)
        else:
            user = sign_in(engine, settings, identity)  # records the sign-in time once per browser session
            st.session_state[_SIGNED_IN] = identity
    except PermissionDenied as exc:
        _refused(str(exc))
        return None
    return user


def signed_in_user(*, sidebar: bool = True) -> User:
    """The user of this script run, set as `core`'s acting user. Stops the page (sign-in screen, or an explanation
    of a hosting problem) when nobody may use it yet."""
    settings = get_settings()
    problem = hosting_problem(
        settings, st.get_option("server.address"), headers=_request_headers(), streamlit_auth=_streamlit_auth()
    )
    if problem:
        set_current_user(None)
        st.error(problem)
        _stop_without_pages()
    if not settings.team_mode:
        user: User | None = LOCAL_USER
    else:
        user = _team_user(settings)
    set_current_user(user)  # script threads belong to one session, and every run sets it again here
    if user is None:
        _stop_without_pages(remember_page=settings.team_mode and not _logged_in())
    assert user is not None
    if sidebar:
        _sidebar(user, settings)
    return user


def fragment(body: Callable[..., None], *, run_every: float | None = None) -> Callable[..., None]:
    """`st.fragment` for every page. A fragment's re-run (its `run_every` tick, a click inside it) runs only `body`,
    in a fresh script thread, without the page's top where `signed_in_user()` set core's acting user: core would see
    nobody there in team mode (no Cancel, no "Make active"). This sets the user of the page's run again on every
    re-run, with their role read again (a demoted or removed user loses the controls at the next tick)."""
    who = current_user()  # the page's full run, which signed them in

    @functools.wraps(body)  # the fragment's identity is its function's module and name: keep the body's
    def run(*args: Any, **kwargs: Any) -> None:
        set_current_user(_again(who))
        body(*args, **kwargs)

    return st.fragment(run, run_every=run_every)


def _again(user: User | None) -> User | None:
    """`user` with their current role; None once an admin removed them (a built-in identity stays as it is)."""
    if user is None or user.builtin or not get_settings().team_mode:
        return user
    return lookup(get_store().engine, user.id)


def _nothing() -> None:
    """The only page a visitor who may not use the dashboard gets (what they see is drawn before it)."""


_PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"
_NEXT_PAGE = "studio_next_page"  # the browser tab's sessionStorage: the page asked for before signing in
_URL_PATH = re.compile(r"^[A-Za-z0-9_-]+$")


def _stop_without_pages(*, remember_page: bool = False) -> NoReturn:
    """Stop the script with a hidden navigation of placeholders, one at each page's URL: nothing is listed, and a
    deep link (`/Data`) keeps its address instead of turning into `/`. With `remember_page` (the sign-in screen),
    the tab remembers that page, so that `resume_deep_link` opens it once sign-in is done (Streamlit's sign-in
    always comes back to the home page)."""
    placeholders = [st.Page(_nothing, title="Expression Studio", default=True)] + [
        st.Page(_nothing, title="Expression Studio", url_path=st.Page(path).url_path)
        for path in sorted(_PAGES_DIR.glob("[0-9]*.py"))
    ]
    asked = st.navigation(placeholders, position="hidden").url_path
    if remember_page and asked and _URL_PATH.match(asked):
        st.html(f"<script>sessionStorage.setItem({_NEXT_PAGE!r}, {asked!r});</script>", unsafe_allow_javascript=True)
    st.stop()


def resume_deep_link(navigation: StreamlitPage) -> None:
    """On the home page after signing in, open the page the visitor had asked for before (once)."""
    if not get_settings().team_mode or navigation.url_path:
        return
    with st.sidebar:
        st.html(
            "<script>(() => {"
            f"const next = sessionStorage.getItem({_NEXT_PAGE!r});"
            f"sessionStorage.removeItem({_NEXT_PAGE!r});"
            "if (next && /^[A-Za-z0-9_-]+$/.test(next)) {"
            "  window.location.replace(window.location.pathname.replace(/\\/?$/, '/') + next);"
            "}})();</script>",
            unsafe_allow_javascript=True,
        )


def _sidebar(user: User, settings: Settings) -> None:
    with st.sidebar:
        if settings.team_mode:
            st.caption(f":material/person: **{user.id}** · {user.role.label}")
            st.button("Sign out", key="auth_logout", on_click=st.logout)
        else:
            st.caption(":material/person: Local mode: you are the local user (admin). Set up sign-in to share.")


def needs(permission: Permission, what: str) -> None:
    """A short note in place of controls the current user's role does not allow."""
    st.caption(f":material/lock: {what} needs the {permission.least_role.label} role.")
