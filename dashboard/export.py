"""CSV export of any result list, audited: who exported what query and how many rows.

Cells come from files (names, sources, labels); a cell a spreadsheet would read as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is prefixed with ``'`` so
opening the export never runs it (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from dashboard.state import audit

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """One CSV cell, formula-neutralised."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Rows as UTF-8 CSV with a header of the first row's keys (plus any later ones)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(str(k) for k in row if str(k) not in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([cell(c) for c in columns])
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
    return buffer.getvalue().encode("utf-8")


def _audit_export(what: str, query: Mapping[str, Any], count: int) -> None:
    audit("export_csv", {"list": what, "query": dict(query), "rows": count})


def csv_download(
    rows: Sequence[Mapping[str, Any]], *, what: str, query: Mapping[str, Any], key: str
) -> None:
    """A "Download CSV" button for ``rows``; each download is written to the audit log."""
    if not rows:
        return
    st.download_button(
        f"Download CSV ({len(rows)} rows)",
        to_csv(rows),
        file_name=f"provreg-{what}.csv",
        mime="text/csv",
        key=key,
        on_click=_audit_export,
        args=(what, dict(query), len(rows)),
    )
