"""The login form and session expiry: nothing else renders until a user has authenticated.

Attempts go through ``registry.auth.login_policy`` (back-off and lockout per account and per
client, every attempt audited). The identity lives in Streamlit's server-side session state,
never in a cookie; it is dropped after ``PROVREG_SESSION_IDLE_SECONDS`` without activity.
"""

from __future__ import annotations

import time

import streamlit as st

from dashboard.state import IDENTITY_KEY, audit, identity, registry
from registry.auth.login_policy import LoginPolicy, attempt_login

ACTIVE_KEY = "_last_active"
EXPIRED_KEY = "_session_expired"


def client_address() -> str:
    """The connecting client's address as Streamlit sees it ("unknown" where it cannot)."""
    try:
        address = st.context.ip_address
    except (AttributeError, RuntimeError):
        address = None
    return address if isinstance(address, str) and address else "unknown"


def login_form() -> None:
    """Render the login form; on success store the identity and rerun."""
    st.title("provreg — investigator dashboard")
    st.caption(
        "Sign in to continue. Every sign-in, search and asset view is recorded in the audit log."
    )
    if st.session_state.get(EXPIRED_KEY):
        st.info("Your session expired after a period of inactivity. Please sign in again.")
    with st.form("login"):
        username = st.text_input("User name", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    policy = LoginPolicy.from_env()
    with registry().sessions.begin() as session:
        outcome = attempt_login(session, username, password, client=client_address(), policy=policy)
    if outcome.identity is None:
        if outcome.refused is not None:
            # The same words whether or not the account exists: no user-name probing.
            st.error(f"Too many failed sign-ins. Try again in {int(outcome.retry_after)} s.")
        else:
            st.error("Unknown user name or wrong password.")
        return
    st.session_state.pop(EXPIRED_KEY, None)
    st.session_state[IDENTITY_KEY] = outcome.identity
    st.session_state[ACTIVE_KEY] = time.time()
    st.rerun()


def expire_idle_session() -> None:
    """Log out a session idle longer than the policy allows; otherwise note this activity."""
    if identity() is None:
        return
    idle = time.time() - float(st.session_state.get(ACTIVE_KEY, 0.0))
    if idle > LoginPolicy.from_env().session_idle_seconds:
        audit("session_expired", {"idle_seconds": round(idle)})
        logout()
        st.session_state[EXPIRED_KEY] = True
        return
    st.session_state[ACTIVE_KEY] = time.time()


def logout() -> None:
    """Forget the identity and everything this session held."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
