"""Recent positives: the newest positive verdicts across every detector (the landing page)."""

from __future__ import annotations

import streamlit as st

from dashboard.result_table import verdict_table
from dashboard.state import audit_once, registry
from registry.queries.reads import VerdictFilter, search_verdicts

LIMIT = 50


def render() -> None:
    """The Recent positives page."""
    st.header("Recent positives")
    st.caption(
        "The newest positive verdicts from every detector: a signed claim, a match or a detection."
    )
    flt = VerdictFilter(positive_only=True)
    audit_once("view_recent", {**flt.describe(), "limit": LIMIT})
    with registry().sessions() as session:
        page = search_verdicts(session, flt, limit=LIMIT)
    if not page.rows:
        st.info("No positive verdicts yet.")
        return
    verdict_table(
        page.rows,
        key="recent_table",
        what="recent-positives",
        query={**flt.describe(), "limit": LIMIT},
    )
