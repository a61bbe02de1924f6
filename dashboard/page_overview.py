"""Overview: verdict counts over time, score histograms, re-scan progress, recent runs — charts."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import eval_view
from dashboard.charts import show_chart
from dashboard.colours import (
    LEGEND,
    OUTCOME_COLOURS,
    detector_scale,
    outcome,
    outcome_scale,
)
from dashboard.state import dashboard_settings, registry
from registry.queries.reads import daily_counts, recent_runs, score_histogram, version_counts


@st.cache_data(ttl=30, show_spinner=False)
def _overview_data(_key: str, days: int) -> dict[str, list[dict[str, Any]]]:
    since = datetime.now(UTC) - timedelta(days=days)
    with registry().sessions() as session:
        counts = [
            {
                **asdict(c),
                "day": c.day.date().isoformat(),
                "outcome": outcome(c.positive, "error" if c.label == "error" else None),
            }
            for c in daily_counts(session, since)
        ]
        histogram = [asdict(b) for b in score_histogram(session, since)]
        versions = [asdict(v) for v in version_counts(session)]
        runs = [
            {
                "run": f"#{r.id} {r.kind}",
                "started": r.started_at.isoformat(),
                "files ok": r.files_ok,
                "files with errors": r.files_error,
                "verdicts": r.verdicts_written,
                "finished": r.finished_at is not None,
            }
            for r in recent_runs(session, limit=20)
        ]
    return {"counts": counts, "histogram": histogram, "versions": versions, "runs": runs}


def render() -> None:
    """The Overview page."""
    st.header("Overview")
    days = st.select_slider(
        "Window (days)", options=[1, 7, 30, 90, 365], value=30, key="overview_days"
    )
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
    st.subheader("Verdicts per day, by detector")
    if not counts:
        st.info("No verdicts in this window.")
        return
    frame = pd.DataFrame(counts)
    detectors = sorted(frame["detector"].unique())
    st.caption(
        "Red: positive; blue: negative or not found; orange: the detector could not "
        "judge the file (the same colours on every page). Hover a bar for its labels."
    )
    for start in range(0, len(detectors), 3):
        for column, detector in zip(st.columns(3), detectors[start : start + 3], strict=False):
            with column:
                chart = (
                    alt.Chart(
                        frame[frame["detector"] == detector],
                        title=alt.TitleParams(detector, anchor="start"),
                    )
                    .mark_bar()
                    .encode(
                        x=alt.X(
                            "day:T",
                            title=None,
                            axis=alt.Axis(format="%m-%d", labelAngle=0, tickCount=5),
                        ),
                        y=alt.Y("sum(count):Q", title="verdicts"),
                        color=alt.Color("outcome:N", scale=outcome_scale(), legend=None),
                        tooltip=["day:T", "label:N", "outcome:N", "sum(count):Q"],
                    )
                    .properties(height=140)
                )
                show_chart(chart)


def _histograms(bins: list[dict[str, Any]]) -> None:
    st.subheader("Score histograms")
    if not bins:
        st.info("No scored verdicts in this window.")
        return
    frame = pd.DataFrame(bins)
    scale = detector_scale(frame["detector"].unique())
    for detector in sorted(frame["detector"].unique()):
        chart = (
            alt.Chart(
                frame[frame["detector"] == detector],
                title=alt.TitleParams(detector, anchor="start", fontSize=12),
            )
            .mark_bar()
            .encode(
                x=alt.X("low:Q", bin="binned", title="score"),
                x2="high:Q",
                y=alt.Y("count:Q", title="verdicts"),
                color=alt.Color("detector:N", scale=scale, legend=None),
                tooltip=["detector:N", "low:Q", "high:Q", "count:Q"],
            )
            .properties(height=110)
        )
        show_chart(chart)


def _versions(versions: list[dict[str, Any]]) -> None:
    st.subheader("Re-scan progress by version")
    if not versions:
        st.info("No verdicts yet.")
        return
    frame = pd.DataFrame(
        [
            {
                "detector version": f"{v['detector']} {v['version']}",
                "detector": v["detector"],
                "assets judged": v["assets"],
            }
            for v in versions
        ]
    )
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("detector version:N", title=None, sort=None, axis=alt.Axis(labelLimit=260)),
            x=alt.X("assets judged:Q", title="assets judged"),
            color=alt.Color(
                "detector:N", scale=detector_scale(frame["detector"].unique()), legend=None
            ),
            tooltip=["detector version:N", "assets judged:Q"],
        )
        .properties(height=40 + 28 * len(frame))
    )
    show_chart(chart)


def _runs(runs: list[dict[str, Any]]) -> None:
    st.subheader("Recent ingest and re-scan runs")
    if not runs:
        st.info("No runs yet.")
        return
    rows = [
        {"run": r["run"], "started": r["started"], "what": what, "files": r[what]}
        for r in runs
        for what in ("files ok", "files with errors")
    ]
    chart = (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar()
        .encode(
            x=alt.X("run:N", sort=None, title=None, axis=alt.Axis(labelLimit=200)),
            y=alt.Y("files:Q", stack=True),
            color=alt.Color(
                "what:N",
                legend=LEGEND,
                scale=alt.Scale(
                    domain=["files ok", "files with errors"],
                    range=[OUTCOME_COLOURS["negative"], OUTCOME_COLOURS["error"]],
                ),
            ),
            tooltip=["run:N", "started:T", "what:N", "files:Q"],
        )
        .properties(height=220)
    )
    show_chart(chart)
