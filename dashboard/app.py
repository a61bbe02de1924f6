"""The Streamlit entry script (``provreg dashboard`` runs ``streamlit run`` on this file).

Every page is behind the login gate; pages are offered by role (``registry.auth.accounts``). Any
error becomes a plain "unavailable" page: details (tracebacks, database host and port, file
paths) go to the server log only, never to the visitor.
"""

from __future__ import annotations

import logging

import streamlit as st

from dashboard import page_asset, page_audit, page_overview, page_recent, page_search
from dashboard.links import apply_url, sync_url
from dashboard.login import expire_idle_session, login_form, logout
from dashboard.state import PAGE_KEY, identity, is_script_control
from dashboard.untrusted import plain
from registry.auth.accounts import PAGES_BY_ROLE

LOG = logging.getLogger("provreg.dashboard")
PAGES = {
    "Recent": page_recent.render,
    "Search": page_search.render,
    "Asset": page_asset.render,
    "Overview": page_overview.render,
    "Audit": page_audit.render,
}
UNAVAILABLE = (
    "The registry is unavailable right now. Please try again in a few minutes; "
    "if it persists, tell the operator (the details are in the server log)."
)


def render() -> None:
    """Render the login form, or the page the logged-in user picked."""
    expire_idle_session()
    who = identity()
    if who is None:
        login_form()
        return
    allowed = list(PAGES_BY_ROLE.get(who.role, ()))
    apply_url(allowed)
    if st.session_state.get(PAGE_KEY) not in allowed:
        st.session_state[PAGE_KEY] = allowed[0]
    with st.sidebar:
        st.text(f"{plain(who.username, 64)} ({who.role})")
        st.radio("Page", allowed, key=PAGE_KEY)
        st.button("Sign out", key="logout", on_click=logout)
    PAGES[st.session_state[PAGE_KEY]]()
    sync_url()


def main() -> None:
    """Render the app; on any failure show the friendly error page instead of details."""
    st.set_page_config(page_title="provreg dashboard", layout="wide")
    try:
        render()
    except Exception as exc:
        if is_script_control(exc):
            raise
        LOG.exception("dashboard page failed")
        st.error(UNAVAILABLE)


main()
