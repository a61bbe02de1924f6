"""One evidence renderer per detector, chosen by detector name, with a generic fallback.

A renderer draws one verdict's evidence on the Asset page. Every value in the evidence came
from the file or from a detector's reading of it, so renderers show such values only through
``dashboard.untrusted`` (plain text or plain-text grids); Markdown carries only this
package's own words. Adding a renderer: a module in this package with a function taking
``(evidence, context)``, listed in :data:`RENDERERS` under the detector's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dashboard import model_view
from dashboard.renderers import c2pa, copy, generic, learned, metadata, watermark
from dashboard.renderers.context import EvidenceContext

Renderer = Callable[[Mapping[str, Any], EvidenceContext], None]

RENDERERS: dict[str, Renderer] = {
    "metadata": metadata.render,
    "c2pa": c2pa.render,
    "watermark": watermark.render,
    "copy": copy.render,
    "synthetic": learned.render,
    "laundering": learned.render,
    "model.lineage": lambda evidence, _context: model_view.render_model("model.lineage", evidence),
    "model.watermark": lambda evidence, _context: model_view.render_model(
        "model.watermark", evidence
    ),
}


def renderer_for(detector: str) -> Renderer:
    """The renderer registered for ``detector``, else the generic one."""
    return RENDERERS.get(detector, generic.render)


def render_evidence(detector: str, evidence: Any, context: EvidenceContext) -> None:
    """Draw ``evidence`` with the detector's renderer (the generic one for non-mappings)."""
    if not isinstance(evidence, Mapping):
        generic.render({"evidence": evidence}, context)
        return
    renderer_for(detector)(evidence, context)


__all__ = ["RENDERERS", "EvidenceContext", "Renderer", "render_evidence", "renderer_for"]
