"""Search: by sha256 or prefix, by filters (keyset-paginated), or by uploaded image."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import streamlit as st

from dashboard.attribution_view import render_attribution_filter
from dashboard.export import csv_download
from dashboard.media import asset_preview, thumbnail
from dashboard.result_table import verdict_table
from dashboard.state import audit, audit_once, open_asset, registry
from dashboard.untrusted import ident, plain, show
from registry.banks.search import search_intake
from registry.banks.services import list_banks, references_with_banks
from registry.intake.pipeline import IntakeResult, intake_bytes
from registry.queries.assets import assets_by_prefix, known_asset
from registry.queries.reads import VerdictFilter, facets, search_verdicts

ANY = "(any)"
PAGE_SIZE = 50
CANDIDATES = 10


@st.cache_data(ttl=60, show_spinner=False)
def _facets(_key: str) -> tuple[list[str], list[str], list[str]]:
    with registry().sessions() as session:
        f = facets(session)
    return list(f.detectors), list(f.labels), list(f.sources)


@st.cache_data(ttl=60, show_spinner=False)
def _banks(_key: str) -> list[str]:
    with registry().sessions() as session:
        return [summary.name for summary in list_banks(session)]


def render() -> None:
    """The Search page."""
    st.header("Search")
    by_hash, by_filters, by_image = st.tabs(["By sha256", "By filters", "By image"])
    with by_hash:
        _hash_search()
    with by_filters:
        _filter_search()
        render_attribution_filter()
    with by_image:
        _image_search()


def _hash_search() -> None:
    prefix = st.text_input("sha256 or hex prefix", key="search_sha").strip().lower()
    if not prefix:
        return
    if any(c not in "0123456789abcdef" for c in prefix):
        audit_once("search_rejected", {"prefix": prefix[:128], "reason": "not hexadecimal"})
        st.error("A sha256 is hexadecimal (0-9, a-f).")
        return
    audit_once("search_sha256", {"prefix": prefix})
    with registry().sessions() as session:
        assets = [
            (a.sha256, a.media_type, a.last_seen)
            for a in assets_by_prefix(session, prefix, limit=20)
        ]
    if not assets:
        st.info("No asset matches.")
    csv_download(
        [
            {
                "sha256": sha,
                "media_type": media_type,
                "last_seen_utc": last_seen.strftime("%Y-%m-%d %H:%M:%S"),
            }
            for sha, media_type, last_seen in assets
        ],
        what="search-sha256",
        query={"prefix": prefix},
        key="sha_csv",
    )
    for sha, media_type, last_seen in assets:
        cols = st.columns([5, 2, 2, 1])
        cols[0].text(plain(sha))
        cols[1].text(plain(media_type))
        cols[2].text(last_seen.strftime("%Y-%m-%d %H:%M"))
        cols[3].button("Open", key=f"open_sha_{sha}", on_click=open_asset, args=(sha,))


def _filters_form() -> VerdictFilter | None:
    detectors, labels, sources = _facets(registry().url)
    with st.form("filters"):
        c1, c2, c3 = st.columns(3)
        detector = c1.selectbox("Detector", [ANY, *detectors], key="f_detector")
        label = c2.selectbox("Label", [ANY, *labels], key="f_label")
        source = c3.selectbox("Source", [ANY, *sources], key="f_source")
        c4, c5, c6 = st.columns(3)
        score_min = c4.number_input("Score at least", value=None, key="f_score_min")
        score_max = c5.number_input("Score at most", value=None, key="f_score_max")
        positive = c6.checkbox("Positive only", key="f_positive")
        c7, c8 = st.columns([1, 2])
        bank = c7.selectbox("Copy of bank", [ANY, *_banks(registry().url)], key="f_bank")
        days = c8.date_input("Created between", value=[], key="f_days")
        if not st.form_submit_button("Search"):
            return None
    since = until = None
    if isinstance(days, tuple) and len(days) == 2:
        since = datetime.combine(days[0], time.min, UTC)
        until = datetime.combine(days[1], time.min, UTC) + timedelta(days=1)
    elif isinstance(days, date):
        since = datetime.combine(days, time.min, UTC)
    return VerdictFilter(
        detector=None if detector == ANY else detector,
        label=None if label == ANY else label,
        positive_only=positive,
        score_min=score_min,
        score_max=score_max,
        since=since,
        until=until,
        source=None if source == ANY else source,
        bank=None if bank == ANY else bank,
    )


def _filter_search() -> None:
    submitted = _filters_form()
    if submitted is not None:
        st.session_state["filter"] = submitted
        st.session_state["cursors"] = [None]
    flt: VerdictFilter | None = st.session_state.get("filter")
    if flt is None:
        st.caption("Choose filters and press Search.")
        return
    cursors: list[int | None] = st.session_state.setdefault("cursors", [None])
    query: dict[str, Any] = {**flt.describe(), "before": cursors[-1]}
    audit_once("search_filters", query)
    with registry().sessions() as session:
        page = search_verdicts(session, flt, before=cursors[-1], limit=PAGE_SIZE)
    st.write(f"Page {len(cursors)}: {len(page.rows)} verdict(s), newest first.")
    if page.rows:
        verdict_table(page.rows, key="filter_table", what="search-filters", query=query)
        shas = list(dict.fromkeys(r.asset_sha256 for r in page.rows))
        c1, c2 = st.columns([4, 1])
        chosen = c1.selectbox("Asset", shas, key="filter_asset_pick")
        c2.button("Open asset", key="filter_open", on_click=open_asset, args=(chosen,))
    prev_col, next_col = st.columns(2)
    if len(cursors) > 1 and prev_col.button("Previous page", key="page_prev"):
        cursors.pop()
        st.rerun()
    if page.next_before is not None and next_col.button("Next page", key="page_next"):
        cursors.append(page.next_before)
        st.rerun()


def _image_search() -> None:
    upload = st.file_uploader("Image to look up", key="search_upload")
    if upload is None:
        return
    reg = registry()
    data = upload.getvalue()
    result = intake_bytes(data, reg.settings.limits, path=upload.name)
    if st.session_state.get("_last_upload") != result.sha256:
        audit(
            "search_image",
            {
                "sha256": result.sha256,
                "size_bytes": result.size_bytes,
                "intake": result.error or "ok",
            },
        )
        st.session_state["_last_upload"] = result.sha256
    show(f"sha256 {result.sha256} · {result.media_type} · {result.size_bytes} bytes")
    show(upload.name)  # the uploader's file name: text, never Markdown
    if not result.ok:
        st.error(f"Could not take this file in: {ident(result.error)}")
        show(result.error_detail)
    else:
        image = thumbnail(result)
        if image is not None:
            st.image(image, width=256)
    with reg.sessions() as session:
        match = known_asset(session, result.sha256)
    if match is None:
        st.info("No exact match: these bytes were never ingested.")
    else:
        st.success(f"Exact match: known asset, first seen {match.first_seen:%Y-%m-%d %H:%M}.")
        st.button("Open asset", key="image_open", on_click=open_asset, args=(match.sha256,))
    if result.ok:
        _copy_candidates(result, upload.name)


def _copy_candidates(result: IntakeResult, name: str) -> None:
    """Ranked copy-detection candidates from the enabled banks, with reference thumbnails."""
    reg = registry()
    candidates = search_intake(reg.settings, result, CANDIDATES, query=name)
    st.subheader("Copy-detection candidates")
    if not candidates:
        st.info("No candidates: no bank reference is near this image (or no bank exists).")
        return
    with reg.sessions() as session:
        rows = {
            ref.id: ref
            for ref, _ in references_with_banks(session, ids=[c.ref_id for c in candidates])
        }
    for candidate in candidates:
        ref = rows.get(candidate.ref_id)
        left, right = st.columns([1, 3])
        with left:
            preview = (
                asset_preview(
                    candidate.reference_sha256,
                    ref.location,
                    reg.settings.limits,
                    settings=reg.settings,
                )
                if ref is not None and candidate.reference_sha256
                else None
            )
            if preview is not None and preview.image is not None:
                st.image(preview.image, width=128)
            else:
                show("no thumbnail" if preview is None else preview.note)
        with right:
            verdict = "**COPY**" if candidate.match else "candidate"
            verified = (
                "not run" if candidate.verified is None else f"{int(candidate.verified)} inliers"
            )
            st.markdown(
                f"#{int(candidate.rank)} {verdict} · bank {ident(candidate.bank)} · "
                f"{ident(candidate.signal)} distance {int(candidate.distance)}/256 · "
                f"verification: {verified}"
            )
            show(
                f"reference sha256 {candidate.reference_sha256 or '(hash only)'}"
                + (
                    f" · added by {ref.added_by}: {ref.reason}"
                    if ref is not None and ref.added_by
                    else ""
                )
            )
