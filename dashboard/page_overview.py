"""Overview: verdict counts over time, score histograms, re-scan progress, recent runs — charts."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import eval_view
from dashboard.state import dashboard_settings, registry
from registry.queries import daily_counts, recent_runs, score_histogram, version_counts


@st.cache_data(ttl=30, show_spinner=False)
def _overview_data(_key: str, days: int) -> dict[str, list[dict[str, Any]]]:
    since = datetime.now(UTC) - timedelta(days=days)
    with registry().sessions() as session:
        counts = [
            {**asdict(c), "day": c.day.date().isoformat(),
             "outcome": "positive" if c.positive else "negative"}
            for c in daily_counts(session, since)
        ]
        histogram = [asdict(b) for b in score_histogram(session, since)]
        versions = [asdict(v) for v in version_counts(session)]
        runs = [
            {"run": f"#{r.id} {r.kind}", "started": r.started_at.isoformat(),
             "files ok": r.files_ok, "files with errors": r.files_error,
             "verdicts": r.verdicts_written, "finished": r.finished_at is not None}
            for r in recent_runs(session, limit=20)
        ]
    return {"counts": counts, "histogram": histogram, "versions": versions, "runs": runs}


def render() -> None:
    """The Overview page."""
    st.header("Overview")
    days = st.select_slider("Window (days)", options=[1, 7, 30, 90, 365], value=30,
                            key="overview_days")
    data = _overview_data(registry().url, days)
    _counts(data["counts"])
    left, right = st.columns(2)
    with left:
        _histograms(data["histogram"])
    with right:
        _versions(data["versions"])
    _runs(data["runs"])
    eval_view.render(dashboard_settings().eval_report_dir)


def _counts(counts: list[dict[str, Any]]) -> None:
    st.subheader("Verdicts per day, by detector and label")
    if not counts:
        st.info("No verdicts in this window.")
        return
    chart = (
        alt.Chart(pd.DataFrame(counts))
        .mark_bar()
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("sum(count):Q", title="verdicts"),
            color=alt.Color("label:N"),
            column=alt.Column("detector:N", title=None),
            tooltip=["day:T", "detector:N", "label:N", "outcome:N", "sum(count):Q"],
        )
        .properties(width=220, height=220)
    )
    st.altair_chart(chart)


def _histograms(bins: list[dict[str, Any]]) -> None:
    st.subheader("Score histograms")
    if not bins:
        st.info("No scored verdicts in this window.")
        return
    chart = (
        alt.Chart(pd.DataFrame(bins))
        .mark_bar()
        .encode(
            x=alt.X("low:Q", bin="binned", title="score"),
            x2="high:Q",
            y=alt.Y("count:Q", title="verdicts"),
            color=alt.Color("detector:N", legend=None),
            row=alt.Row("detector:N", title=None, header=alt.Header(labelOrient="top")),
            tooltip=["detector:N", "low:Q", "high:Q", "count:Q"],
        )
        .properties(height=140, width=380)
        .resolve_scale(x="independent")
    )
    st.altair_chart(chart)


def _versions(versions: list[dict[str, Any]]) -> None:
    st.subheader("Re-scan progress by version")
    if not versions:
        st.info("No verdicts yet.")
        return
    frame = pd.DataFrame(
        [{"detector version": f"{v['detector']} {v['version']}", "detector": v["detector"],
          "assets judged": v["assets"]} for v in versions]
    )
    st.bar_chart(frame, x="detector version", y="assets judged", color="detector",
                 horizontal=True, height=80 + 36 * len(frame))


def _runs(runs: list[dict[str, Any]]) -> None:
    st.subheader("Recent ingest and re-scan runs")
    if not runs:
        st.info("No runs yet.")
        return
    rows = [
        {"run": r["run"], "started": r["started"], "what": what, "files": r[what]}
        for r in runs for what in ("files ok", "files with errors")
    ]
    chart = (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar()
        .encode(
            x=alt.X("run:N", sort=None, title=None),
            y=alt.Y("files:Q", stack=True),
            color=alt.Color("what:N", scale=alt.Scale(range=["#4c78a8", "#e45756"])),
            tooltip=["run:N", "started:T", "what:N", "files:Q"],
        )
        .properties(height=220)
    )
    st.altair_chart(chart, width="stretch")
