"""Model assets on the asset page: the tensor table, the lineage match, watermark verdicts.

Evidence is hostile data (a tensor name is whatever the uploader wrote): every value goes
through :func:`dashboard.untrusted.table` / :func:`show` as plain text, rows are capped, and
anything of an unexpected shape is skipped rather than trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.untrusted import show, table

#: Rows drawn per table (the detector lists at most 64 tensors and 32 changed ones).
MAX_ROWS = 64


def _rows(value: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [
        {k: item.get(k) for k in keys} for item in value[:MAX_ROWS] if isinstance(item, Mapping)
    ]


def render_model(detector: str, evidence: Mapping[str, Any]) -> None:
    """Draw what ``model.lineage`` / ``model.watermark`` found; nothing for other detectors."""
    if detector == "model.lineage":
        _lineage(evidence)
    elif detector == "model.watermark":
        _watermark(evidence)


def _lineage(evidence: Mapping[str, Any]) -> None:
    manifest = evidence.get("manifest")
    if isinstance(manifest, Mapping):
        st.markdown("**Tensors**")
        show(
            f"{manifest.get('tensor_count')} tensors, {manifest.get('parameters')} "
            f"parameters, manifest sha256 {manifest.get('manifest_sha256')}"
        )
        table(_rows(manifest.get("tensors"), ("name", "dtype", "shape", "sha256")))
        if manifest.get("summarised"):
            show(
                f"… {manifest.get('tensors_omitted')} more tensors summarised in the manifest hash"
            )
    match = evidence.get("match")
    if isinstance(match, Mapping):
        st.markdown("**Lineage match**")
        table([{k: v for k, v in match.items() if k != "changed"}])
        changed = _rows(match.get("changed"), ("name", "cosine", "relative_l2"))
        if changed:
            st.markdown("Changed tensors")
            table(changed)
    candidates = _rows(
        evidence.get("candidates"), ("reference", "relation", "coverage", "cosine", "fit")
    )
    if candidates:
        st.markdown("**Registered models compared**")
        table(candidates)


def _watermark(evidence: Mapping[str, Any]) -> None:
    rows = _rows(
        evidence.get("results"),
        (
            "key",
            "key_id",
            "method",
            "layer_found",
            "bits",
            "matched",
            "ber",
            "p_value",
            "p_value_corrected",
        ),
    )
    st.markdown("**Weight-watermark keys tested**")
    if rows:
        table(rows)
    else:
        show("no weight-watermark keys are registered")
