"""Charts that fit the page: full column width, with the height given to the plot itself.

Streamlit's ``width="stretch"`` sizes a chart with Vega's ``fit`` autosize, which squeezes
the axes, titles and legends into the given height: short charts lost their whole plot
(seen in the browser screenshots). ``fit-x`` fits only the width, so the height set on the
chart is the plot's own and the labels get room of their own.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import streamlit as st

FIT_WIDTH = alt.AutoSizeParams(type="fit-x", contains="padding")


def show_chart(chart: Any) -> None:
    """Draw ``chart`` across the container, keeping its plot height."""
    st.altair_chart(chart.properties(autosize=FIT_WIDTH), width="stretch")
