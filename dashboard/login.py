"""The login form: nothing else renders until a user has authenticated."""

from __future__ import annotations

import streamlit as st

from dashboard.state import IDENTITY_KEY, registry
from registry.auth import authenticate


def login_form() -> None:
    """Render the login form; on success store the identity and rerun."""
    st.title("provreg — investigator dashboard")
    st.caption("Sign in to continue. Every search and asset view is recorded in the audit log.")
    with st.form("login"):
        username = st.text_input("User name", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        with registry().sessions() as session:
            who = authenticate(session, username, password)
        if who is None:
            st.error("Unknown user name or wrong password.")
            return
        st.session_state[IDENTITY_KEY] = who
        st.rerun()


def logout() -> None:
    """Forget the identity and everything this session held."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
