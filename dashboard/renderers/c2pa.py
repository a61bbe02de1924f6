"""The ``c2pa`` detector: manifest chain, signer, validation state and every status code
explained in words (``dashboard.renderers.c2pa_codes``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import streamlit as st

from dashboard.evidence_table import leaf_text, show_fields
from dashboard.renderers.c2pa_codes import explain
from dashboard.renderers.context import EvidenceContext
from dashboard.untrusted import show, table

STATES = {
    "Trusted": (
        "green",
        "Trusted: the manifest validates and its signer chains to a trusted certificate authority.",
    ),
    "Valid": (
        "orange",
        "Valid but not trusted: the manifest is intact and correctly signed, "
        "but by a certificate no trust anchor vouches for (anyone can make one).",
    ),
    "Invalid": (
        "red",
        "Invalid: the manifest or the file failed validation (see the failure "
        "codes); what it claims is unverified.",
    ),
}
SHOWN = {
    "validation_state",
    "validation",
    "validation_status",
    "ingredient_deltas",
    "signature",
    "ingredients",
    "active_manifest",
    "title",
    "claim_generator",
    "why",
    "failure_codes",
}


def render(evidence: Mapping[str, Any], context: EvidenceContext) -> None:
    """State, signer, manifest chain, status codes; everything else as a table."""
    if evidence.get("manifest_present") is False:
        st.markdown(
            "**No C2PA manifest in this file.** (Absence proves nothing: most "
            "platforms strip manifests.)"
        )
    state = evidence.get("validation_state")
    if state is not None or evidence.get("manifest_present"):
        colour, words = STATES.get(str(state), ("red", "No validation state was reported."))
        st.markdown(f"**Validation state:** :{colour}[{words}]")
    if evidence.get("why"):
        st.caption("The detector's reading:")
        show(evidence["why"])
    signature = evidence.get("signature")
    if isinstance(signature, Mapping):
        st.markdown("**Signer** (from the signing certificate)")
        table(
            {"field": str(k).replace("_", " "), "value": leaf_text(v)} for k, v in signature.items()
        )
    chain = chain_rows(evidence)
    if chain:
        st.markdown("**Manifest chain** (the active manifest first, then its ingredients)")
        table(chain)
    codes = list(status_rows(evidence))
    if codes:
        st.markdown("**Status codes**, explained (C2PA specification, Standard Status Codes)")
        table(codes)
    rest = {k: v for k, v in evidence.items() if k not in SHOWN}
    if rest:
        show_fields(rest, title="Other fields")


def chain_rows(evidence: Mapping[str, Any]) -> list[dict[str, str]]:
    """The active manifest and its ingredients as rows."""
    rows = []
    if evidence.get("active_manifest"):
        signature = evidence.get("signature")
        signer = (
            signature.get("common_name") or signature.get("issuer")
            if isinstance(signature, Mapping)
            else None
        )
        rows.append(
            {
                "level": "active manifest",
                "manifest": leaf_text(evidence.get("active_manifest")),
                "title": leaf_text(evidence.get("title")),
                "relationship": "—",
                "generator / signer": leaf_text(evidence.get("claim_generator") or signer),
            }
        )
    ingredients = evidence.get("ingredients")
    for ingredient in ingredients if isinstance(ingredients, list) else []:
        if isinstance(ingredient, Mapping):
            rows.append(
                {
                    "level": "ingredient",
                    "manifest": leaf_text(ingredient.get("active_manifest")),
                    "title": leaf_text(ingredient.get("title")),
                    "relationship": leaf_text(ingredient.get("relationship")),
                    "generator / signer": "—",
                }
            )
    return rows


def status_rows(evidence: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    """Every status code reported, with where it came from and what it means."""
    seen: set[tuple[str, str]] = set()
    for where, entry in _entries(evidence):
        code = str(entry.get("code") or "")
        if (where, code) in seen:
            continue
        seen.add((where, code))
        kind, meaning = explain(code)
        mark = {"success": "✓", "informational": "i", "failure": "✗"}.get(kind, "?")
        yield {
            "": mark,
            "code": code,
            "kind": kind,
            "meaning": meaning,
            "where": where,
            "validator's note": leaf_text(entry.get("explanation")),
        }


def _entries(evidence: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    validation = evidence.get("validation")
    if isinstance(validation, Mapping):
        for kind in ("failure", "informational", "success"):
            yield from (("active manifest", e) for e in _maps(validation.get(kind)))
    yield from (("active manifest", e) for e in _maps(evidence.get("validation_status")))
    deltas = evidence.get("ingredient_deltas")
    for delta in deltas if isinstance(deltas, list) else []:
        if isinstance(delta, Mapping) and isinstance(delta.get("validation"), Mapping):
            for kind in ("failure", "informational", "success"):
                yield from (("ingredient", e) for e in _maps(delta["validation"].get(kind)))
    for code in evidence.get("failure_codes") or []:
        yield "active manifest", {"code": code}


def _maps(value: Any) -> Iterator[Mapping[str, Any]]:
    for item in value if isinstance(value, list) else []:
        if isinstance(item, Mapping):
            yield item
        elif isinstance(item, str):
            yield {"code": item}
