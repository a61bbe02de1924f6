"""Attribution on the dashboard: the asset's generator with its top-k, and search by generator.

Evidence is hostile: only the expected fields are read, names shown as identifiers, numbers
only when they are finite numbers, at most :data:`MAX_ROWS` rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from dashboard.state import audit_once, open_asset, registry
from dashboard.untrusted import ident, table
from registry.attribution.queries import assets_attributed_to, attributed_generators

MAX_ROWS = 20
ANY = "(choose a generator)"


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return round(float(value), 4)
    return None


def top_k_rows(evidence: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The top-k table from an attribution verdict's evidence (malformed rows dropped)."""
    rows = evidence.get("top_k")
    if not isinstance(rows, list):
        return []
    out = []
    for row in rows[:MAX_ROWS]:
        if not isinstance(row, Mapping) or not isinstance(row.get("generator"), str):
            continue
        out.append(
            {
                "generator": row["generator"][:100],
                "affinity": _number(row.get("z")),
                "threshold": _number(row.get("threshold")),
                "margin": _number(row.get("margin")),
                "residual NCC": _number(row.get("residual_ncc")),
                "feature cosine": _number(row.get("feature_cosine")),
            }
        )
    return out


def render_attribution(verdicts: Sequence[Any]) -> None:
    """The newest judged ``attribution`` verdict of an asset: label, top-k, calibration."""
    judged = [v for v in verdicts if v.detector == "attribution" and not v.error]
    if not judged:
        return
    v = max(judged, key=lambda row: row.log_index)
    evidence = v.evidence if isinstance(v.evidence, Mapping) else {}
    st.subheader("Generator attribution")
    st.markdown(
        f"Attributed to {ident(v.label)} (detector v{ident(v.version)}, "
        f"log index {int(v.log_index)})"
    )
    rows = top_k_rows(evidence)
    if rows:
        table(rows)
    calibration = evidence.get("calibration")
    if isinstance(calibration, Mapping):
        source = calibration.get("source")
        st.caption(
            f"Open-set threshold {_number(evidence.get('threshold'))} from: "
            f"{str(source)[:200] if isinstance(source, str) else 'unknown'}"
        )
    resampling = evidence.get("resampling")
    if isinstance(resampling, Mapping) and resampling.get("resampled") is True:
        st.warning(
            "The image looks resampled (resized): its traces are off the native grid, "
            "so the attribution is weaker."
        )


@st.cache_data(ttl=60, show_spinner=False)
def _generators(_key: str) -> list[str]:
    with registry().sessions() as session:
        return attributed_generators(session)


def render_attribution_filter() -> None:
    """Search by attributed generator: a picker and the assets attributed to it."""
    st.markdown("##### By attributed generator")
    choice = st.selectbox(
        "Attributed generator", [ANY, *_generators(registry().url)], key="f_generator"
    )
    if choice == ANY:
        return
    audit_once("search_generator", {"generator": choice})
    with registry().sessions() as session:
        rows = assets_attributed_to(session, choice)
    st.write(f"{len(rows)} asset(s) currently attributed to {ident(choice)}.")
    if rows:
        table(
            [
                {
                    "asset": r.sha256[:16],
                    "score": r.score,
                    "log_index": r.log_index,
                    "created": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                }
                for r in rows
            ]
        )
        pick = st.selectbox("Asset", [r.sha256 for r in rows], key="generator_asset_pick")
        st.button("Open asset", key="generator_open", on_click=open_asset, args=(pick,))
