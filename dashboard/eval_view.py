"""The latest ``provreg eval`` report on the Overview: its headline table and plot.

Reads ``report.json`` and the plot from the configured report folder
(:attr:`registry.settings.Settings.eval_report_dir`); a missing, oversized or malformed
report shows a one-line hint instead, never an exception.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

#: Largest report.json / plot read (a report of every detector is well under 1 MB).
MAX_BYTES = 20 * 1024 * 1024
COLUMNS = (
    "detector",
    "positives",
    "negatives",
    "original_detect_rate",
    "original_fpr",
    "attacks_kept_90pct",
    "worst_attack",
    "worst_detect_rate",
    "forgeries_that_fire",
)


def load_report(folder: Path) -> dict[str, Any] | None:
    """``report.json`` of ``folder`` if it is there, small enough and well formed."""
    path = folder / "report.json"
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("headline"), list):
        return None
    return document


def headline_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline rows, restricted to the known columns (the file is not trusted)."""
    rows = []
    for row in document.get("headline", []):
        if isinstance(row, dict):
            rows.append(
                {
                    c: row.get(c)
                    if isinstance(row.get(c), str | int | float | None)
                    else str(row.get(c))
                    for c in COLUMNS
                }
            )
    return rows


def render(folder: Path) -> None:
    """Draw the section (a hint when there is no report yet)."""
    st.subheader("Robustness (latest provreg eval)")
    document = load_report(folder)
    if document is None:
        st.caption(
            f"No evaluation report in {folder}; run `provreg eval run --corpus DIR "
            "--out DIR` (see docs/robustness.md)."
        )
        return
    found = document.get("meta")
    meta: dict[str, Any] = found if isinstance(found, dict) else {}
    st.caption(
        f"`{str(meta.get('command', ''))[:300]}` · seed {meta.get('seed')} · "
        f"suite {meta.get('suite')}"
    )
    st.dataframe(headline_rows(document), hide_index=True, width="stretch")
    plot = folder / "detection_vs_strength.png"
    try:
        if plot.is_file() and plot.stat().st_size <= MAX_BYTES:
            st.image(plot.read_bytes(), caption="Detection rate against attack strength")
    except OSError:
        st.caption("The plot could not be read.")
