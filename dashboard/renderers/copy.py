"""The ``copy`` detector: each match with query and reference side by side, the matched SIFT
keypoints drawn, distance and inliers, the full reference hash, and what the score means.

Handles both the detector's evidence (a ``matches`` list) and a single-match record (a
retroactive bank match: ``reference_sha256``, ``distance``, ``bank`` at the top level).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.evidence_table import leaf_text, show_fields
from dashboard.renderers.context import EvidenceContext
from dashboard.renderers.copy_drawing import draw_matches
from dashboard.renderers.watermark import number
from dashboard.untrusted import ident, show, table

PDQ_BITS = 256
MAX_SHOWN = 3
SHOWN = {"matches", "score_basis"}
SINGLE_KEYS = {"reference_sha256", "reference_id", "distance", "bank"}


def score_words(score: float | None, basis: Any, best: Mapping[str, Any] | None) -> str:
    """What the verdict's score measures, in a sentence."""
    if score is None:
        return "No score: nothing matched."
    verification = best.get("verification") if best else None
    if basis == "sift-inliers" and isinstance(verification, Mapping):
        inliers = int(number(verification.get("inliers")) or 0)
        return (
            f"Score {score:.2f}: geometric verification found {inliers} matching "
            "keypoints consistent with one transform (score = inliers / 100, at most 1; "
            "a copy needs at least 20)."
        )
    distance = number(best.get("distance")) if best else None
    if distance is not None:
        return (
            f"Score {score:.2f}: {PDQ_BITS - int(distance)} of {PDQ_BITS} PDQ hash bits "
            "agree (score = 1 - distance / 256)."
        )
    return f"Score {score:.2f}."


def matches_of(evidence: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The candidates in the evidence (a single-match record counts as one match)."""
    found = evidence.get("matches")
    if isinstance(found, list):
        return [m for m in found if isinstance(m, Mapping)]
    if SINGLE_KEYS & set(evidence):
        return [{**evidence, "match": True}]
    return []


def render(evidence: Mapping[str, Any], context: EvidenceContext) -> None:
    """Matched references side by side, other candidates as a table, then the rest."""
    candidates = matches_of(evidence)
    matched = [m for m in candidates if m.get("match") is True]
    st.markdown(
        score_words(context.score, evidence.get("score_basis"), matched[0] if matched else None)
    )
    if evidence.get("note"):
        show(evidence["note"])
    for index, match in enumerate(matched[:MAX_SHOWN]):
        _match(index + 1, match, context)
    if len(matched) > MAX_SHOWN:
        st.caption(f"{len(matched) - MAX_SHOWN} more match(es) in the table below.")
    others = matched[MAX_SHOWN:] + [m for m in candidates if m.get("match") is not True]
    if others:
        st.markdown("**Other candidates** (judged, not matched unless marked)")
        table(_summary(m) for m in others[:100])
    rest = {
        k: v
        for k, v in evidence.items()
        if k not in SHOWN and not (candidates and "matches" not in evidence and k in SINGLE_KEYS)
    }
    if rest:
        show_fields(rest, title="Other fields")


def _summary(match: Mapping[str, Any], *, with_hash: bool = True) -> dict[str, str]:
    verification = match.get("verification")
    verification = verification if isinstance(verification, Mapping) else {}
    distance = number(match.get("distance"))
    return {
        "bank": leaf_text(match.get("bank")),
        "match": leaf_text(match.get("match_kind") or ("yes" if match.get("match") else "no")),
        "PDQ distance": "—" if distance is None else f"{int(distance)} / {PDQ_BITS}",
        "inliers": leaf_text(verification.get("inliers")),
        "keypoint matches": leaf_text(verification.get("matches")),
        "mirrored": leaf_text(verification.get("mirrored")),
        "pHash distance": leaf_text(match.get("phash_distance")),
        "embedding similarity": leaf_text(match.get("embedding_similarity")),
        **({"reference sha256": leaf_text(match.get("reference_sha256"))} if with_hash else {}),
    }


def _match(rank: int, match: Mapping[str, Any], context: EvidenceContext) -> None:
    kind = match.get("match_kind") or "match"
    st.markdown(f"**Match {rank}** · bank {ident(match.get('bank'))} · decided by {ident(kind)}")
    ref_sha = match.get("reference_sha256")
    st.caption("Reference sha256 (full; copy with the button on the right):")
    st.code(str(ref_sha) if ref_sha else "(none: a hash-only reference)", language=None)
    table([_summary(match, with_hash=False)])  # the hash is shown in full just above
    query = context.load_image(context.asset_sha256)
    reference = context.load_image(str(ref_sha)) if isinstance(ref_sha, str) else None
    verification = match.get("verification")
    pairs = verification.get("inlier_pairs") if isinstance(verification, Mapping) else None
    if query is not None and reference is not None and pairs:
        drawn = draw_matches(query, reference, pairs, mirrored=bool(verification.get("mirrored")))  # type: ignore[union-attr]
        if drawn is not None:
            st.caption(
                "Query (left) and reference (right); green lines join matched SIFT "
                "keypoints that agree on one transform (up to 40 shown)."
            )
            st.image(drawn)
            return
    left, right = st.columns(2)
    with left:
        st.caption("Query (this asset)")
        if query is not None:
            st.image(query, width=320)
        else:
            st.info("No stored image of this asset to show.")
    with right:
        st.caption("Reference")
        if reference is not None:
            st.image(reference, width=320)
        elif not ref_sha:
            st.info("Hash-only reference: the bank keeps its PDQ hash, not the image.")
        else:
            st.info("The registry holds only this reference's hashes, not a readable image.")
