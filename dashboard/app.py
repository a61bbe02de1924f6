"""The Streamlit entry script (``provreg dashboard`` runs ``streamlit run`` on this file).

Every page is behind the login gate; pages are offered by role (``registry.auth``).
"""

from __future__ import annotations

import streamlit as st

from dashboard import page_asset, page_audit, page_overview, page_search
from dashboard.login import login_form, logout
from dashboard.state import PAGE_KEY, identity
from registry.auth import PAGES_BY_ROLE

PAGES = {
    "Search": page_search.render,
    "Asset": page_asset.render,
    "Overview": page_overview.render,
    "Audit": page_audit.render,
}


def main() -> None:
    """Render the login form, or the page the logged-in user picked."""
    st.set_page_config(page_title="provreg dashboard", layout="wide")
    who = identity()
    if who is None:
        login_form()
        return
    allowed = list(PAGES_BY_ROLE.get(who.role, ()))
    if st.session_state.get(PAGE_KEY) not in allowed:
        st.session_state[PAGE_KEY] = allowed[0]
    with st.sidebar:
        st.markdown(f"**{who.username}** ({who.role})")
        st.radio("Page", allowed, key=PAGE_KEY)
        st.button("Sign out", key="logout", on_click=logout)
    PAGES[st.session_state[PAGE_KEY]]()


main()
