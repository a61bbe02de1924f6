"""The ``metadata`` detector: generator parameters written into the file, shown as fields.

Every finding is what the file says about itself; anyone can write or edit these chunks, so
the page says so above them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.evidence_table import leaf_text, show_fields
from dashboard.renderers.context import EvidenceContext
from dashboard.untrusted import ident, show, table

CLAIM_CAPTION = (
    "This is a claim in the file, not proof: any program (or person) can write "
    "these fields, and removing or copying them is trivial."
)
#: Shown first, in this order, when a finding has them (other fields follow in a table).
KEY_FIELDS = (
    "model",
    "base_model",
    "model_hash",
    "seed",
    "sampler",
    "sampler_name",
    "scheduler",
    "steps",
    "cfg_scale",
    "guidance_scale",
    "width",
    "height",
)
TEXT_FIELDS = ("prompt", "negative_prompt")


def render(evidence: Mapping[str, Any], context: EvidenceContext) -> None:
    """Findings (prompt, model, seed, sampler as fields), then the rest of the evidence."""
    st.caption(CLAIM_CAPTION)
    findings = evidence.get("findings")
    findings = findings if isinstance(findings, list) else []
    for finding in findings[:20]:
        if isinstance(finding, Mapping):
            _finding(finding)
    rest = {k: v for k, v in evidence.items() if k != "findings"}
    if rest:
        show_fields(rest, title="What was read")


def _finding(finding: Mapping[str, Any]) -> None:
    fields = finding.get("fields")
    fields = fields if isinstance(fields, Mapping) else {}
    st.markdown(f"**Generator parameters** ({ident(finding.get('label'))}), found in:")
    show(finding.get("source"))
    for name in TEXT_FIELDS:
        if fields.get(name):
            st.markdown(f"*{name.replace('_', ' ').capitalize()}:*")
            show(fields[name])
    key = [
        {"field": n.replace("_", " "), "value": leaf_text(fields[n])}
        for n in KEY_FIELDS
        if n in fields
    ]
    if key:
        table(key)
    other = {k: v for k, v in fields.items() if k not in KEY_FIELDS and k not in TEXT_FIELDS}
    if other:
        show_fields(other, title="Other fields")
