"""Audit (admins): who searched or viewed what, and when; newest first."""

from __future__ import annotations

import json

import streamlit as st

from dashboard.export import csv_download
from dashboard.state import audit_once, registry, require_identity
from registry.auth.accounts import audit_entries

PAGE_SIZE = 100


def render() -> None:
    """The Audit page (the role check is repeated here, not only in the navigation)."""
    who = require_identity()
    st.header("Audit log")
    if who.role != "admin":
        audit_once("audit_view_denied", {})
        st.error("Admins only.")
        return
    user = st.text_input("Only this user", key="audit_user").strip() or None
    cursors: list[int | None] = st.session_state.setdefault("audit_cursors", [None])
    if st.session_state.get("_audit_user") != user:
        cursors[:] = [None]
        st.session_state["_audit_user"] = user
    # Who read the audit log is itself audited: one entry per page of entries shown.
    audit_once("view_audit", {"user": user, "before": cursors[-1]})
    with registry().sessions() as session:
        entries = audit_entries(session, username=user, before_id=cursors[-1], limit=PAGE_SIZE)
    if not entries:
        st.info("No audit entries.")
        return
    rows = [
        {
            "id": e.id,
            "when": e.at.strftime("%Y-%m-%d %H:%M:%S"),
            "user": e.username,
            "role": e.role,
            "action": e.action,
            "db_role": e.db_role or "—",
            "query": json.dumps(e.query, sort_keys=True),
        }
        for e in entries
    ]
    st.dataframe(
        rows, hide_index=True, width="stretch", height=min(760, 40 + 35 * len(rows))
    )  # all rows of short pages, no scroll
    csv_download(
        rows, what="audit-log", query={"user": user, "before": cursors[-1]}, key="audit_csv"
    )
    prev_col, next_col = st.columns(2)
    if len(cursors) > 1 and prev_col.button("Newer", key="audit_newer"):
        cursors.pop()
        st.rerun()
    if len(entries) == PAGE_SIZE and next_col.button("Older", key="audit_older"):
        cursors.append(entries[-1].id)
        st.rerun()
