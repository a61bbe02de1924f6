"""The ``watermark`` detector: which payload, bits matched of how many, the p-value in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.evidence_table import leaf_text, show_fields
from dashboard.evidence_view import bits_text
from dashboard.renderers.context import EvidenceContext
from dashboard.renderers.words import chance_in_words
from dashboard.untrusted import ident, table

SHOWN = {"best", "table"}


def number(value: Any) -> float | None:
    """A finite number from evidence, or None (booleans and text are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def row_words(row: Mapping[str, Any]) -> dict[str, str]:
    """One decoded payload comparison as readable columns."""
    k, n = number(row.get("k")), number(row.get("n"))
    p = number(row.get("p_value_corrected"))
    if p is None:
        p = number(row.get("p_value"))
    return {
        "payload": leaf_text(row.get("payload")),
        "method": leaf_text(row.get("method")),
        "bits matched": "—"
        if k is None or n is None
        else f"{int(k)} of {int(n)}" + (f" ({k / n:.0%})" if n else ""),
        "p-value (corrected)": "—" if p is None else f"{p:.3g}",
        "chance": chance_in_words(p),
        "read as": f"{leaf_text(row.get('order'))} / {leaf_text(row.get('domain'))}",
    }


def render(evidence: Mapping[str, Any], context: EvidenceContext) -> None:
    """The best payload in a sentence, then every payload tried as a table."""
    best = evidence.get("best")
    if isinstance(best, Mapping):
        words = row_words(best)
        p = number(best.get("p_value_corrected"))
        p = context.p_value if p is None else p
        st.markdown(
            f"**Best payload** {ident(best.get('payload'))}: "
            f"{words['bits matched']} bits matched. "
            f"A match this good is {chance_in_words(p)}"
            + (
                f" (p = {p:.3g}, Bonferroni-corrected over "
                f"{int(number(evidence.get('tests')) or 1)} tests)."
                if p is not None
                else "."
            )
        )
        decoded = best.get("decoded_hex")
        if decoded:
            st.caption("Decoded payload (hex):")
            st.code(str(decoded)[:512], language=None, wrap_lines=True)
    rows = evidence.get("table")
    if isinstance(rows, list) and rows:
        st.markdown("**Every payload tried**")
        table(row_words(r) for r in rows[:100] if isinstance(r, Mapping))
    for key, value in evidence.items():
        if "bits" in key and bits_text(value) is not None:
            st.caption("Decoded bits:")
            st.code(bits_text(value) or "", language=None, wrap_lines=True)
    rest = {k: v for k, v in evidence.items() if k not in SHOWN}
    if rest:
        show_fields(rest, title="Other fields")
