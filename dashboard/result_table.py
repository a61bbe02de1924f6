"""Verdict result lists: thumbnails, a row click opens the asset, a link per asset, CSV export.

Cells are plain text in the data grid (never Markdown); thumbnails are ``data:`` URIs made
here from decoded pixels, never a URL taken from a file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from dashboard.colours import outcome
from dashboard.export import csv_download
from dashboard.links import asset_link
from dashboard.state import open_asset, registry
from dashboard.thumbnails import thumbnail_uri
from dashboard.untrusted import plain
from registry.queries.evidence import asset_locations
from registry.queries.reads import VerdictSummary

MAX_THUMBNAILS = 100
ROW_HEIGHT = 56
MAX_HEIGHT = 760


@st.cache_data(ttl=300, show_spinner=False, max_entries=2000)
def _thumb(sha256: str, location: str | None) -> str | None:
    return thumbnail_uri(sha256, location)


def verdict_rows(rows: Sequence[VerdictSummary]) -> list[dict[str, Any]]:
    """Export-ready rows (full sha256, no pictures)."""
    return [
        {
            "log_index": r.log_index,
            "asset_sha256": r.asset_sha256,
            "detector": r.detector,
            "version": r.version,
            "label": r.label,
            "outcome": outcome(r.positive, r.error),
            "score": r.score,
            "p_value": r.p_value,
            "error": r.error,
            "created_utc": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        }
        for r in rows
    ]


def _open_selected(key: str, shas: list[str]) -> None:
    state = st.session_state.get(key)
    selection = getattr(state, "selection", None) or (
        state.get("selection") if isinstance(state, Mapping) else None
    )
    rows = (
        getattr(selection, "rows", None)
        or (selection.get("rows") if isinstance(selection, Mapping) else None)
        or []
    )
    if rows and 0 <= int(rows[0]) < len(shas):
        open_asset(shas[int(rows[0])])


def verdict_table(
    rows: Sequence[VerdictSummary], *, key: str, what: str, query: Mapping[str, Any]
) -> None:
    """The grid (click a row to open its asset) and a CSV export of the same rows."""
    if not rows:
        return
    with registry().sessions() as session:
        locations = asset_locations(session, list({r.asset_sha256 for r in rows}))
    data = verdict_rows(rows)
    shown = [
        {
            "thumbnail": _thumb(r.asset_sha256, locations.get(r.asset_sha256))
            if i < MAX_THUMBNAILS
            else None,
            **{k: plain(v, 500) if isinstance(v, str) else v for k, v in row.items()},
            "link": asset_link(r.asset_sha256),
        }
        for i, (r, row) in enumerate(zip(rows, data, strict=True))
    ]
    shas = [r.asset_sha256 for r in rows]
    st.caption("Click a row to open its asset; the link column is each asset's address.")
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        key=key,
        height=min(MAX_HEIGHT, 40 + ROW_HEIGHT * len(shown)),
        on_select=lambda: _open_selected(key, shas),
        selection_mode="single-row",
        row_height=ROW_HEIGHT,
        column_order=[
            "thumbnail",
            "detector",
            "version",
            "label",
            "outcome",
            "score",
            "p_value",
            "created_utc",
            "link",
            "asset_sha256",
            "log_index",
        ],
        column_config={
            "thumbnail": st.column_config.ImageColumn("", width="small"),
            "asset_sha256": st.column_config.TextColumn("asset sha256", width="large"),
            "created_utc": st.column_config.TextColumn("created (UTC)"),
            "p_value": st.column_config.NumberColumn(format="%.1e"),
            "score": st.column_config.NumberColumn(format="%.4f"),
            "link": st.column_config.LinkColumn("link", display_text="open ↗"),
        },
    )
    csv_download(data, what=what, query=query, key=f"{key}_csv")
