"""JSON evidence as readable tables: one row per leaf, lists of records as their own grid.

Values stay data: the rows are shown through ``dashboard.untrusted.table`` (plain-text grid
cells, never Markdown), so markup in a value is displayed literally.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import streamlit as st

from dashboard.untrusted import plain, table

MAX_ROWS = 400
MAX_DEPTH = 8
MAX_COLUMNS = 16


def leaf_text(value: Any) -> str:
    """A scalar as display text (None as a dash, booleans as yes/no, floats to 6 digits)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, default=str)[:2000]
    return str(value)


def flatten(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """``(path, text)`` for every leaf of a JSON value; short scalar lists stay on one row."""
    if depth > MAX_DEPTH:
        yield path or "(value)", leaf_text(value)
    elif isinstance(value, Mapping):
        if not value:
            yield path or "(value)", "(empty)"
        for key, item in value.items():
            yield from flatten(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        if not value:
            yield path or "(value)", "(empty list)"
        elif len(value) <= 20 and not any(isinstance(v, Mapping | list) for v in value):
            yield path or "(value)", ", ".join(leaf_text(v) for v in value)
        else:
            for index, item in enumerate(value):
                yield from flatten(item, f"{path}[{index}]", depth + 1)
    else:
        yield path or "(value)", leaf_text(value)


def field_rows(evidence: Mapping[str, Any]) -> list[dict[str, str]]:
    """Rows of field / value for a whole mapping, at most :data:`MAX_ROWS`."""
    rows = []
    for index, (path, text) in enumerate(flatten(evidence)):
        if index >= MAX_ROWS:
            rows.append({"field": "…", "value": "more fields not shown"})
            break
        rows.append({"field": path, "value": text})
    return rows


def record_rows(records: list[Any]) -> list[dict[str, str]]:
    """A list of mappings as grid rows: one column per key (nested values as JSON text)."""
    columns: list[str] = []
    for record in records:
        if isinstance(record, Mapping):
            columns.extend(str(k) for k in record if str(k) not in columns)
    columns = columns[:MAX_COLUMNS]
    return [
        {c: leaf_text(record.get(c)) for c in columns}
        if isinstance(record, Mapping)
        else {columns[0] if columns else "value": leaf_text(record)}
        for record in records[:MAX_ROWS]
    ]


def is_records(value: Any) -> bool:
    """Whether ``value`` is a non-empty list of mappings (shown as its own grid)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def show_fields(evidence: Mapping[str, Any], *, title: str | None = None) -> None:
    """Show a mapping: lists of records as their own grids, everything else as field/value."""
    scalars = {k: v for k, v in evidence.items() if not is_records(v)}
    if title and evidence:
        st.markdown(f"**{title}**")
    if scalars:
        table(field_rows(scalars))
    for key, value in evidence.items():
        if is_records(value):
            st.caption("List:")
            st.text(plain(key, 200))
            table(record_rows(value))
