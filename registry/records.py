"""The signed verdict record: what exactly gets canonicalised (RFC 8785), signed and logged.

The record binds the verdict to its log index and signing key, so a row moved to another
position or re-attributed to another key no longer verifies.

PostgreSQL's ``text`` and ``jsonb`` cannot hold U+0000, so NUL characters in a verdict's
strings (a hostile PNG text chunk, padded EXIF fields) are replaced by U+FFFD before the
record is canonicalised: the signed bytes and the stored columns then say the same thing, and
one such file cannot make a whole batch fail to write.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from detectors.base import JSONValue, Verdict
from registry.canonical import canonicalize

RECORD_SCHEMA = "provreg.verdict/v1"

#: Record fields that are also stored as columns and must agree with the signed bytes.
MIRRORED_FIELDS = (
    "asset_sha256",
    "detector",
    "version",
    "model_checksum",
    "label",
    "positive",
    "score",
    "p_value",
    "error",
    "evidence",
)


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-22T15:35:16.623135Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def json_safe(value: Any) -> JSONValue:
    """Coerce detector evidence into strict JSON (RFC 8785 refuses NaN, tuples, numpy scalars)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return json_safe(item())
    return str(value)


def build_record(
    verdict: Verdict, *, log_index: int, key_id: str, created_at: datetime
) -> dict[str, JSONValue]:
    """The record for ``verdict`` at ``log_index``, signed by ``key_id`` at ``created_at``."""
    score = json_safe(verdict.score)
    p_value = json_safe(verdict.p_value)
    record: dict[str, JSONValue] = {
        "schema": RECORD_SCHEMA,
        "log_index": log_index,
        "key_id": key_id,
        "created_at": format_time(created_at),
        "asset_sha256": verdict.asset_sha256,
        "detector": verdict.detector,
        "version": verdict.version,
        "model_checksum": verdict.model_checksum,
        "label": verdict.label,
        "positive": bool(verdict.positive),
        "score": score if isinstance(score, float | int) else None,
        "p_value": p_value if isinstance(p_value, float | int) else None,
        "evidence": json_safe(verdict.evidence),
        "error": verdict.error,
        "elapsed_ms": json_safe(verdict.elapsed_ms),
    }
    cleaned = without_nul(record)
    assert isinstance(cleaned, dict)
    return cleaned


NUL = "\x00"
#: What a NUL character in a verdict's strings is stored as.
NUL_REPLACEMENT = "\ufffd"


def without_nul(value: JSONValue) -> JSONValue:
    """``value`` with every NUL in its strings (keys included) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace(NUL, NUL_REPLACEMENT)
    if isinstance(value, dict):
        return {key.replace(NUL, NUL_REPLACEMENT): without_nul(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


def canonical_bytes(record: Mapping[str, JSONValue]) -> bytes:
    """RFC 8785 canonical JSON of ``record``."""
    return canonicalize(record)
