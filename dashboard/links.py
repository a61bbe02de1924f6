"""A stable URL per asset: ``?asset=<sha256>`` opens the Asset page (after sign-in).

The parameter is hostile input: only 64 hexadecimal characters are accepted.
"""

from __future__ import annotations

import re

import streamlit as st

from dashboard.state import ASSET_KEY, PAGE_KEY

PARAM = "asset"
APPLIED_KEY = "_url_asset"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def valid_sha256(value: object) -> str | None:
    """``value`` as a lower-case sha256, or None when it is not one."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return text if _SHA256.fullmatch(text) else None


def apply_url(allowed: list[str]) -> None:
    """Open the asset named in the URL, once per session (the first run after sign-in).

    Once only: the browser re-sends the address it shows with every rerun, which may lag
    behind :func:`sync_url`; applying it again would pull the user back to the asset.
    A new link opened in the browser is a new session, so it is applied.
    """
    if APPLIED_KEY in st.session_state:
        return
    raw = st.query_params.get(PARAM)
    st.session_state[APPLIED_KEY] = raw
    if raw is None:
        return
    sha = valid_sha256(raw)
    if sha is None:
        st.warning("The link's asset is not a sha256 (64 hexadecimal characters); ignored.")
        return
    if "Asset" in allowed:
        st.session_state[ASSET_KEY] = sha
        st.session_state[PAGE_KEY] = "Asset"


def sync_url() -> None:
    """Keep the address bar naming the asset shown, so it can be copied and shared."""
    sha = valid_sha256(st.session_state.get(ASSET_KEY))
    if st.session_state.get(PAGE_KEY) == "Asset" and sha is not None:
        if st.query_params.get(PARAM) != sha:
            st.query_params[PARAM] = sha
    elif PARAM in st.query_params:
        del st.query_params[PARAM]


def asset_link(sha256: str) -> str:
    """The relative link to an asset's page."""
    return f"?{PARAM}={sha256}"
