"""The signed verdict record: what exactly gets canonicalised (RFC 8785), signed and logged.

The record binds the verdict to its log index and signing key, so a row moved to another
position or re-attributed to another key no longer verifies.

PostgreSQL's ``text`` and ``jsonb`` cannot hold U+0000, so NUL characters in a verdict's
strings (a hostile PNG text chunk, padded EXIF fields) are replaced by U+FFFD before the
record is canonicalised: the signed bytes and the stored columns then say the same thing, and
one such file cannot make a whole batch fail to write.

Record encoding versions (the ``schema`` member says which one a record was signed under):

``provreg.verdict/v1``
    Evidence as the detector reported it, non-finite floats as strings. An integer beyond
    ±(2**53 − 1) made signing raise, and an integral float beyond it (``1e23``) was signed
    in exponent form (``1e+23``) that JSONB reads back as an integer.
``provreg.verdict/v2`` (written now)
    Every value is first brought to one canonical form (:func:`json_safe`) that survives
    sign → PostgreSQL JSONB → read → RFC 8785 re-encode byte for byte:

    * integers beyond the I-JSON range ±(2**53 − 1) become their plain decimal string
      (``6952411511246973023`` → ``"6952411511246973023"``);
    * integral floats beyond that range become the string of their RFC 8785 number text
      (``1e23`` → ``"1e+23"``, ``1e308`` → ``"1e+308"``); ``-0.0`` is ``0``;
    * NaN and the infinities become ``"nan"``, ``"inf"``, ``"-inf"``;
    * NUL becomes U+FFFD (PostgreSQL refuses it) and so does each lone surrogate (a
      ``surrogateescape``d file name, for instance: not valid Unicode, so not JSON);
    * containers nested deeper than :data:`MAX_DEPTH` are replaced by the string
      :data:`TOO_DEEP` (JSONB parsing and every JSON library recurse).

``registry.ledger.verify`` checks both versions: it compares the signed record with the stored
columns number by number as exact decimals, so a v1 entry holding ``1e+23`` (stored by JSONB
as ``100000000000000000000000``) verifies too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from detectors.base import JSONValue, Verdict
from registry.errors import LedgerIntegrityError
from registry.ledger.canonical import canonicalize, float_text

RECORD_SCHEMA = "provreg.verdict/v2"
#: Every record schema verify accepts (older entries stay verifiable).
KNOWN_SCHEMAS = frozenset({"provreg.verdict/v1", RECORD_SCHEMA})
#: Largest magnitude of an integer that I-JSON (RFC 7493) and JavaScript hold exactly.
MAX_SAFE_INTEGER = 2**53 - 1
#: Containers deeper than this are replaced by :data:`TOO_DEEP`.
MAX_DEPTH = 64
#: What a container nested deeper than :data:`MAX_DEPTH` is recorded as.
TOO_DEEP = f"[nested deeper than {MAX_DEPTH} levels: dropped]"

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


def json_safe(value: Any, _depth: int = 0) -> JSONValue:
    """Bring detector evidence to the canonical form signed under ``provreg.verdict/v2``.

    Strict JSON (RFC 8785 refuses NaN, tuples, numpy scalars) whose numbers and strings
    survive a JSONB round trip unchanged; see the module docstring for every rule.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int):
        number = int(value)
        return number if abs(number) <= MAX_SAFE_INTEGER else str(number)
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, Mapping | list | tuple | set | frozenset) and _depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, Mapping):
        return {clean_text(str(key)): json_safe(item, _depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item, _depth + 1) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return json_safe(item(), _depth)
    return clean_text(str(value))


def json_number(value: Any) -> float | int | None:
    """A score or p-value as signed and stored in its ``double precision`` column: a finite
    number within ±(2**53 − 1), else ``None``. (Beyond that range RFC 8785 writes a float
    as integer digits that no longer re-encode; no score or probability lives there.)"""
    safe = json_safe(value)
    return safe if isinstance(safe, float | int) and not isinstance(safe, bool) else None


def _float(value: float) -> JSONValue:
    if not math.isfinite(value):
        return str(value)
    if value.is_integer():
        if abs(value) <= MAX_SAFE_INTEGER:
            return int(value)  # RFC 8785 writes it as an integer anyway; -0.0 becomes 0
        return float_text(value)
    return value


def clean_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD (see the module docstring)."""
    if NUL in text:
        text = text.replace(NUL, NUL_REPLACEMENT)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub(NUL_REPLACEMENT, text)
    return text


def build_record(
    verdict: Verdict, *, log_index: int, key_id: str, created_at: datetime
) -> dict[str, JSONValue]:
    """The record for ``verdict`` at ``log_index``, signed by ``key_id`` at ``created_at``."""
    score = json_number(verdict.score)
    p_value = json_number(verdict.p_value)
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
        "score": score,
        "p_value": p_value,
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
_SURROGATE = re.compile("[\ud800-\udfff]")


def without_nul(value: JSONValue) -> JSONValue:
    """``value`` with every NUL and lone surrogate in its strings (keys included) replaced
    by U+FFFD."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


def canonical_bytes(record: Mapping[str, JSONValue]) -> bytes:
    """RFC 8785 canonical JSON of ``record``."""
    return canonicalize(record)


def signed_record(canonical: bytes, index: int, key_id: str | None, what: str) -> dict[str, Any]:
    """Parse a log entry's signed bytes and check what every entry shares: strict JSON in
    RFC 8785 form, signed for ``index`` under ``key_id``. ``what`` names the entry in errors.

    Raises :class:`~registry.errors.LedgerIntegrityError` on the first difference.
    """
    import json

    try:
        record = json.loads(canonical)
        recanonical = canonical_bytes(record)
    except (ValueError, TypeError) as exc:
        raise LedgerIntegrityError(index, f"signed bytes are not valid JSON: {exc}") from exc
    if recanonical != canonical:
        raise LedgerIntegrityError(index, "signed bytes are not in RFC 8785 canonical form")
    if not isinstance(record, dict):
        raise LedgerIntegrityError(index, f"entry is not a signed {what}")
    if record.get("log_index") != index:
        raise LedgerIntegrityError(
            index, f"entry was signed for log index {record.get('log_index')}"
        )
    if record.get("key_id") != key_id:
        raise LedgerIntegrityError(index, f"key id column differs from the signed {what}")
    return record
