"""Asset: thumbnail, facts, every verdict as a timeline, evidence, sightings, integrity, export."""

from __future__ import annotations

from collections import defaultdict

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.attribution_view import render_attribution
from dashboard.charts import show_chart
from dashboard.colours import outcome, outcome_scale
from dashboard.evidence_images import load_image
from dashboard.media import asset_preview
from dashboard.renderers import EvidenceContext, render_evidence
from dashboard.state import ASSET_KEY, audit, audit_once, registry, require_identity
from dashboard.untrusted import ident, show, table
from registry import AssetView, EntryCheck, VerdictFacts, check_asset, show_asset
from registry.errors import ProofError, UnknownAssetError
from registry.ledger.evidence import build_evidence_bundle


def render() -> None:
    """The Asset page."""
    st.header("Asset")
    sha = st.text_input("sha256", key=ASSET_KEY).strip().lower()
    if not sha:
        st.caption("Open an asset from Search, or paste its sha256.")
        return
    reg = registry()
    try:
        story: AssetView | None = show_asset(reg, sha)
    except UnknownAssetError:
        story = None
    audit_once("view_asset", {"sha256": sha, "found": story is not None})
    if story is None:
        st.warning("Unknown asset.")
        return
    sha = story.asset.sha256  # a unique prefix opens its asset
    report = check_asset(reg, sha)
    checks = {e.log_index: e for e in report.entries}
    _facts(story)
    _integrity(report.ok, report.checkpoint_detail, checks)
    _timeline(story)
    _verdicts(story, checks)
    render_attribution(story.verdicts)
    _sightings(story)
    _export(sha)


def _facts(story: AssetView) -> None:
    a = story.asset
    left, right = st.columns([1, 2])
    preview = asset_preview(
        a.sha256, a.location, registry().settings.limits, settings=registry().settings
    )
    with left:
        if preview.image is not None:
            st.image(preview.image)
        else:
            st.info("No thumbnail.")
        show(preview.note)  # a file path: chosen by whoever named the file
    with right:
        st.code(a.sha256, language=None)
        c1, c2, c3 = st.columns(3)
        c1.metric("Media type", a.media_type)
        c2.metric("Size", f"{a.size_bytes:,} B")
        c3.metric("Pixels", f"{a.width}×{a.height}" if a.width else "—")
        c1.metric("Verdicts", len(story.verdicts))
        c2.metric("Sightings", len(story.sightings))
        c3.metric("Positive", sum(v.positive for v in story.verdicts))
        st.caption(
            f"First seen {a.first_seen:%Y-%m-%d %H:%M:%S} UTC · "
            f"last seen {a.last_seen:%Y-%m-%d %H:%M:%S} UTC"
        )


def _integrity(ok: bool, checkpoint_detail: str, checks: dict[int, EntryCheck]) -> None:
    st.subheader("Integrity")
    failed = [c for c in checks.values() if not c.ok]
    if ok:
        st.success(
            f"PASS — all {len(checks)} verdict(s): signatures valid under the trusted "
            f"keys and included in the latest signed checkpoint."
        )
    else:
        st.error(f"FAIL — {len(failed)} of {len(checks)} verdict(s) did not verify.")
    show(checkpoint_detail)
    st.dataframe(
        [
            {
                "log_index": c.log_index,
                "signature": ("pass" if c.signature_ok else "FAIL") + f" — {c.signature_detail}",
                "inclusion": ("pass" if c.inclusion_ok else "FAIL") + f" — {c.inclusion_detail}",
            }
            for c in checks.values()
        ],
        hide_index=True,
        width="stretch",
    )


def _timeline(story: AssetView) -> None:
    st.subheader("Timeline")
    data = [
        {
            "created": v.created_at.isoformat(),
            "detector": v.detector,
            "detector version": f"{v.detector} {v.version}",
            "version": v.version,
            "label": v.label,
            "positive": v.positive,
            "outcome": outcome(v.positive, v.error),
            "log_index": v.log_index,
        }
        for v in story.verdicts
    ]
    if not data:
        st.info("No verdicts yet.")
        return
    chart = (
        alt.Chart(pd.DataFrame(data))
        .mark_point(filled=True, size=120)
        .encode(
            x=alt.X(
                "created:T",
                title="signed at (UTC)",
                scale=alt.Scale(padding=30),
                axis=alt.Axis(format="%Y-%m-%d %H:%M:%S", tickCount=4, labelAngle=0),
            ),
            y=alt.Y("detector version:N", title=None, sort=None, axis=alt.Axis(labelLimit=300)),
            color=alt.Color(
                "outcome:N",
                scale=outcome_scale(),
                legend=alt.Legend(orient="bottom", title="outcome"),
            ),
            tooltip=["log_index:Q", "detector:N", "version:N", "label:N", "outcome:N"],
        )
        .properties(height=40 + 32 * len({d["detector version"] for d in data}))
    )
    show_chart(chart)


def _verdicts(story: AssetView, checks: dict[int, EntryCheck]) -> None:
    st.subheader("Verdicts by detector (versions side by side)")
    by_detector: dict[str, list[VerdictFacts]] = defaultdict(list)
    for v in story.verdicts:
        by_detector[v.detector].append(v)
    for detector, rows in sorted(by_detector.items()):
        st.markdown(f"#### {ident(detector)}")
        for column, v in zip(st.columns(len(rows)), rows, strict=True):
            with column:
                _verdict_card(story.asset.sha256, v, checks.get(int(v.log_index)))


def _verdict_card(asset_sha256: str, v: VerdictFacts, check: EntryCheck | None) -> None:
    mark = "POSITIVE" if v.positive else ("error" if v.error else "negative / not found")
    verified = ":green[✓ verified]" if check is not None and check.ok else ":red[✗ does not verify]"
    st.markdown(f"**v**{ident(v.version)} · {ident(v.label)} · {mark} · {verified}")
    score = "—" if v.score is None else f"{v.score:.4g}"
    p = "—" if v.p_value is None else f"{v.p_value:.3g}"
    st.caption(
        f"log index {v.log_index} · score {score} · p-value {p} · "
        f"{v.created_at:%Y-%m-%d %H:%M:%S} · key {ident(v.key_id[:12])}…"
    )
    if v.error:
        st.warning("The detector could not judge this file:")
        show(v.error)
    with st.expander("Evidence", expanded=v.positive):
        render_evidence(
            v.detector,
            v.evidence or {},
            EvidenceContext(
                asset_sha256=asset_sha256, score=v.score, p_value=v.p_value, load_image=load_image
            ),
        )


def _sightings(story: AssetView) -> None:
    st.subheader("Sightings")
    if not story.sightings:
        st.info("No sightings recorded.")
        return
    table(
        {
            "seen": s.seen_at.strftime("%Y-%m-%d %H:%M:%S"),
            "source": s.source,
            "location": s.location,
            "run": s.ingest_run_id,
        }
        for s in story.sightings
    )


def _export(sha: str) -> None:
    st.subheader("Evidence bundle")
    st.caption(
        "A zip with each verdict's signed bytes, signature, public keys, inclusion proof, "
        "the signed checkpoint and a standalone verifier (Python + cryptography only)."
    )
    bundle_key = f"bundle_{sha}"
    if st.button("Prepare evidence bundle", key="prepare_bundle"):
        who = require_identity()
        reg = registry()
        try:
            with reg.sessions() as session:
                st.session_state[bundle_key] = build_evidence_bundle(
                    session,
                    sha,
                    key_name=reg.settings.key_name,
                    trusted_keys=reg.keystore.keys(),
                    exported_by=who.username,
                )
            audit("export_bundle", {"sha256": sha})
        except ProofError as exc:
            st.error(f"Cannot export: {exc}")
    data = st.session_state.get(bundle_key)
    if isinstance(data, bytes):
        st.download_button(
            "Download evidence bundle (.zip)",
            data,
            file_name=f"evidence-{sha[:16]}.zip",
            mime="application/zip",
            key="download_bundle",
        )
