"""Readable rendering of verdict evidence: generic JSON, with special cases for known keys
(the generic renderer of ``dashboard.renderers``; nested values become tables, never a
``key=value`` wall).

The parsing helpers are pure (tested without Streamlit). The A1111 ``parameters`` parser is
written here because it is a tiny display-only format (a prompt, an optional ``Negative
prompt:`` line and one ``Key: value, ...`` settings line) and no kept library for it is
installed; the metadata detector's own parse, when present in the evidence, is shown as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard.evidence_table import record_rows, show_fields
from dashboard.untrusted import show, table

_SETTING = re.compile(r'\s*([\w ./()-]+):\s*("(?:[^"\\]|\\.)*"|[^,]*)(?:,|$)')
A1111_KEYS = ("parameters", "a1111", "a1111_parameters", "sd-metadata")
C2PA_CODE_KEYS = ("validation_status", "validation_codes", "status_codes", "validation_results")


def looks_like_a1111(text: str) -> bool:
    """Whether ``text`` looks like an AUTOMATIC1111 ``parameters`` text chunk."""
    return "Steps:" in text and ("Sampler:" in text or "Seed:" in text)


def parse_a1111(text: str) -> dict[str, Any]:
    """Split A1111 parameters into prompt, negative prompt and a settings mapping."""
    lines = text.strip().splitlines()
    settings_line = ""
    if lines and "Steps:" in lines[-1]:
        settings_line = lines.pop()
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    target = prompt_lines
    for line in lines:
        if line.startswith("Negative prompt:"):
            target = negative_lines
            line = line.removeprefix("Negative prompt:").strip()
        target.append(line)
    settings = {
        key.strip(): value.strip().strip('"')
        for key, value in _SETTING.findall(settings_line)
        if key.strip()
    }
    return {
        "prompt": "\n".join(prompt_lines).strip(),
        "negative_prompt": "\n".join(negative_lines).strip(),
        "settings": settings,
    }


def bits_text(value: Any) -> str | None:
    """Watermark bits shown as grouped 0/1 text (from a 0/1 string or list), else None."""
    if isinstance(value, list) and value and all(v in (0, 1, True, False) for v in value):
        value = "".join("1" if v else "0" for v in value)
    if isinstance(value, str) and value and set(value) <= {"0", "1"}:
        return " ".join(value[i : i + 8] for i in range(0, len(value), 8))
    return None


def code_rows(value: Any) -> list[dict[str, str]]:
    """C2PA validation status entries as rows of code / url / explanation."""
    items = value if isinstance(value, list) else [value]
    rows = []
    for item in items:
        if isinstance(item, Mapping):
            rows.append(
                {
                    "code": str(item.get("code", "")),
                    "url": str(item.get("url", "")),
                    "explanation": str(item.get("explanation", "")),
                }
            )
        else:
            rows.append({"code": str(item), "url": "", "explanation": ""})
    return rows


def _is_failure_code(code: str) -> bool:
    return any(
        word in code.lower()
        for word in ("mismatch", "invalid", "fail", "missing", "untrusted", "revoked", "expired")
    )


def render_evidence(evidence: Mapping[str, Any], p_value: float | None) -> None:
    """Show one verdict's evidence: known keys first, everything else as a key/value table.

    Every key and value came from the file or the detector's reading of it, so all of them
    go through ``dashboard.untrusted`` (plain text); headings are this module's own words.
    """
    rest: dict[str, Any] = {}
    for key, value in evidence.items():
        if isinstance(value, str) and (key in A1111_KEYS or looks_like_a1111(value)):
            _render_a1111(key, value)
        elif key in C2PA_CODE_KEYS and value:
            _render_codes(key, value)
        elif key == "actions" and isinstance(value, list):
            st.markdown("**C2PA actions**")
            table(record_rows(value))
        elif key == "validation_state":
            if value in ("Valid", "Trusted"):
                st.markdown(f"**C2PA validation state:** :green[{value}]")
            else:
                st.markdown("**C2PA validation state:** :red[not valid]")
                show(value)
        elif "bits" in key and bits_text(value) is not None:
            p = f" — p-value {p_value:.3g}" if p_value is not None else ""
            st.markdown(f"**Watermark bits**{p}")
            show(key)
            st.code(bits_text(value) or "", language=None, wrap_lines=True)
        else:
            rest[key] = value
    if rest:
        show_fields(rest)


def _render_a1111(key: str, text: str) -> None:
    parsed = parse_a1111(text)
    st.markdown("**A1111 generation parameters**")
    show(key)
    st.markdown("*Prompt:*")
    show(parsed["prompt"] or "—")
    if parsed["negative_prompt"]:
        st.markdown("*Negative prompt:*")
        show(parsed["negative_prompt"])
    if parsed["settings"]:
        table({"setting": k, "value": v} for k, v in parsed["settings"].items())


def _render_codes(key: str, value: Any) -> None:
    st.markdown(f"**C2PA {key.replace('_', ' ') if key in C2PA_CODE_KEYS else 'codes'}**")
    table({"ok": "✗" if _is_failure_code(row["code"]) else "✓", **row} for row in code_rows(value))
