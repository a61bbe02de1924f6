"""The JSON shapes of the command-line contract (DESIGN.md): one verdict, one ingest line.

Shared by ``provreg ingest --json`` and the Serve endpoint (``ray_jobs.serve``), which answers
each upload with the same line, so neither imports the other's command module.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.ingest import FileOutcome
    from registry.ledger.writer import LedgerEntry


def entry_json(entry: LedgerEntry) -> dict[str, Any]:
    """The DESIGN.md verdict shape for --json output."""
    from registry.ledger.records import json_number, json_safe

    v = entry.verdict
    return {
        "detector": v.detector,
        "version": v.version,
        "model_checksum": v.model_checksum,
        "label": v.label,
        "positive": v.positive,
        "score": json_number(v.score),
        "p_value": json_number(v.p_value),
        "evidence": json_safe(v.evidence),  # as signed: strict JSON, no NaN or lone surrogates
        "error": v.error,
        "log_index": entry.log_index,
        "signature": base64.b64encode(entry.signature).decode(),
        "key_id": entry.key_id,
    }


def outcome_json(outcome: FileOutcome) -> dict[str, Any]:
    """One `ingest --json` line."""
    from registry.intake.pipeline import path_bytes_hex, path_text

    line: dict[str, Any] = {
        "sha256": outcome.sha256,
        "path": None if outcome.path is None else path_text(outcome.path),
        "status": outcome.status,
        "error": outcome.error,
        "error_detail": outcome.error_detail,
        "verdicts": [entry_json(e) for e in outcome.entries],
    }
    exact = None if outcome.path is None else path_bytes_hex(outcome.path)
    if exact is not None:  # a name that is not UTF-8: its exact bytes beside the text
        line["path_bytes_hex"] = exact
    return line
