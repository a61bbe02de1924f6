"""One colour map for every chart: a colour means the same thing on every page.

Outcomes: positive (red), negative / not found (blue), error (orange). Detectors keep a fixed
colour each (known ones named here, others from a fallback palette in name order).
"""

from __future__ import annotations

from collections.abc import Iterable

import altair as alt

OUTCOME_COLOURS = {"positive": "#d62728", "negative": "#4c78a8", "error": "#f58518"}
DETECTOR_COLOURS = {
    "file-facts": "#7f7f7f",
    "metadata": "#9467bd",
    "c2pa": "#17becf",
    "watermark": "#2ca02c",
    "copy": "#8c564b",
    "synthetic": "#e377c2",
    "laundering": "#bcbd22",
}
FALLBACK = [
    "#1f77b4",
    "#ff9896",
    "#98df8a",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#dbdb8d",
    "#9edae5",
    "#aec7e8",
    "#ffbb78",
]
LEGEND = alt.Legend(orient="bottom", labelLimit=300, titleLimit=300, columns=4)


def outcome(positive: bool, error: str | None = None) -> str:
    """The outcome name a verdict is coloured by."""
    if error:
        return "error"
    return "positive" if positive else "negative"


def outcome_scale() -> alt.Scale:
    """The Altair colour scale for the ``outcome`` field."""
    return alt.Scale(domain=list(OUTCOME_COLOURS), range=list(OUTCOME_COLOURS.values()))


def detector_colours(detectors: Iterable[str]) -> dict[str, str]:
    """A fixed colour per detector name."""
    names = sorted(set(detectors))
    unknown = [n for n in names if n not in DETECTOR_COLOURS]
    extra = {n: FALLBACK[i % len(FALLBACK)] for i, n in enumerate(unknown)}
    return {n: DETECTOR_COLOURS.get(n) or extra[n] for n in names}


def detector_scale(detectors: Iterable[str]) -> alt.Scale:
    """The Altair colour scale for a ``detector`` field holding ``detectors``."""
    colours = detector_colours(detectors)
    return alt.Scale(domain=list(colours), range=list(colours.values()))
