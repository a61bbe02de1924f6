"""Session plumbing for the Streamlit app: the shared Registry, the logged-in identity,
navigation between pages and audit logging (through ``registry.auth.accounts``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import streamlit as st

from registry.app import Registry
from registry.auth.accounts import Identity, record_audit
from registry.settings import Settings

IDENTITY_KEY = "identity"
PAGE_KEY = "page"
ASSET_KEY = "asset_sha"


@st.cache_resource(show_spinner=False)
def _open_registry(key: str, _settings: Settings) -> Registry:
    # Cached per (database URL, home); the leading underscore keeps Settings out of the hash.
    return Registry.open(_settings)


def dashboard_settings() -> Settings:
    """Settings from the environment; the dashboard's own database URL wins when set."""
    settings = Settings.from_env()
    if settings.dashboard_database_url:
        settings = dataclasses.replace(settings, database_url=settings.dashboard_database_url)
    return settings


def registry() -> Registry:
    """The process-wide Registry (one engine per settings), opened lazily."""
    settings = dashboard_settings()
    return _open_registry(f"{settings.database_url}|{settings.home}", settings)


def identity() -> Identity | None:
    """The logged-in user, if any."""
    who = st.session_state.get(IDENTITY_KEY)
    return who if isinstance(who, Identity) else None


def require_identity() -> Identity:
    """The logged-in user; stops the script if nobody is (callers run after the login gate)."""
    who = identity()
    if who is None:
        st.stop()
    assert who is not None
    return who


def audit(action: str, query: Mapping[str, Any]) -> None:
    """Append an audit entry for the current user (committed at once)."""
    who = require_identity()
    with registry().sessions.begin() as session:
        record_audit(session, who, action, query)


def audit_once(action: str, query: Mapping[str, Any]) -> None:
    """Audit ``query`` unless it is the one this session audited last for ``action``.

    Streamlit reruns the whole script on every click; this records each new search or view
    once instead of once per rerun.
    """
    key = f"_audited_{action}"
    fingerprint = repr(sorted(query.items()))
    if st.session_state.get(key) != fingerprint:
        audit(action, query)
        st.session_state[key] = fingerprint


def is_script_control(exc: BaseException) -> bool:
    """Whether ``exc`` is Streamlit's own control flow (``st.rerun``/``st.stop``), which must
    propagate rather than be shown as an error."""
    return any(
        cls.__name__ in ("ScriptControlException", "RerunException", "StopException")
        for cls in type(exc).__mro__
    )


def open_asset(sha256: str) -> None:
    """Button callback: show ``sha256`` on the Asset page."""
    st.session_state[ASSET_KEY] = sha256
    st.session_state[PAGE_KEY] = "Asset"
