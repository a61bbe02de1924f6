"""The fallback renderer: known evidence keys drawn specially, the rest as readable tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboard.evidence_view import render_evidence
from dashboard.renderers.context import EvidenceContext


def render(evidence: Mapping[str, Any], context: EvidenceContext) -> None:
    """Any detector's evidence (A1111 text, C2PA codes, bits; other fields as a table)."""
    render_evidence(evidence, context.p_value)
