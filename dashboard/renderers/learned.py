"""The learned detectors (``synthetic``, ``laundering``): anomaly map and autoencoder
distances drawn (``dashboard.learned_view``), the rest of the evidence as the generic view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboard.evidence_view import render_evidence
from dashboard.learned_view import anomaly_grid, render_learned
from dashboard.renderers.context import EvidenceContext

DRAWN = {"anomaly_map", "autoencoders"}


def render(evidence: Mapping[str, Any], context: EvidenceContext) -> None:
    """Pictures first, then the remaining fields."""
    render_learned(evidence)
    rest = {
        k: v
        for k, v in evidence.items()
        if k not in DRAWN or (k == "anomaly_map" and not _drawable(evidence))
    }
    render_evidence(rest, context.p_value)


def _drawable(evidence: Mapping[str, Any]) -> bool:
    return anomaly_grid(evidence) is not None
