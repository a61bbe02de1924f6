"""Untrusted text is text: the one way the dashboard shows strings that came from a file.

Metadata, C2PA manifests, evidence, file names, sources and error details are chosen by
whoever made the file. Streamlit renders Markdown (links, images, autolinked URLs) in
``st.markdown``, ``st.write``, ``st.caption``, alerts, widget labels and ``st.table`` cells;
an image link there makes the investigator's browser fetch the uploader's URL. So such
strings are shown only through ``st.text`` / ``st.code`` / ``st.dataframe`` (rendered as
plain text), after :func:`plain`; Markdown is used only for text written in this package.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st

MAX_CHARS = 2000
_NOT_IDENT = re.compile(r"[^A-Za-z0-9._+-]")


def plain(value: Any, limit: int = MAX_CHARS) -> str:
    """``value`` as a bounded string without control or bidirectional-override characters.

    Newlines and tabs are kept; everything else in Unicode categories Cc/Cf (which includes
    the bidi overrides that make a name read differently from what it is) becomes U+FFFD.
    """
    text = "—" if value is None else str(value)
    cleaned = "".join(
        c if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf") else "\ufffd" for c in text
    )
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + f"… ({len(cleaned)} chars)"


def ident(value: Any, limit: int = 100) -> str:
    """An identifier (detector, label, version, key id) for use inside Markdown: a code span
    of ``[A-Za-z0-9._+-]`` only, every other character shown as ``?``.

    A code span is never a link (not even an autolinked ``www.`` name), and none of the
    allowed characters can close it.
    """
    return "`" + (_NOT_IDENT.sub("?", str(value)[:limit]) or "-") + "`"


def show(value: Any) -> None:
    """Show an untrusted string as plain text."""
    st.text(plain(value))


def table(rows: Iterable[Mapping[str, Any]]) -> None:
    """Show rows of untrusted values as a plain-text grid (no Markdown in cells)."""
    st.dataframe(
        [{k: plain(v) for k, v in row.items()} for row in rows], hide_index=True, width="stretch"
    )
