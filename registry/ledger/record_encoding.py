"""The ledger's hot path: a verdict's signed record and its JSONB evidence in one walk.

:func:`encode_record` returns exactly ``canonical_bytes(build_record(...))`` (tests pin it
byte for byte on generated verdicts) but walks the evidence once instead of three times:
the reference path coerces it with ``json_safe``, checks it again for the canonical fast
path, and encodes it a third time with ``json.dumps`` for the JSONB column. Here one walk
coerces and checks, the C encoder writes the evidence once, and that text serves both the
signed record (RFC 8785 is compositional: the canonical form of a member does not depend on
where it sits) and the JSONB column (canonical JSON is JSON). The record's other members are
scalars written straight into a template whose keys are already in RFC 8785 order.

Anything the fast path is not sure of (a value :func:`registry.ledger.canonical.prepare` refuses,
a string that is not valid Unicode) takes the reference path unchanged, so results and
errors are those of :func:`~registry.ledger.records.build_record` and
:func:`~registry.ledger.records.canonical_bytes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, cast

import rfc8785

from detectors.base import Verdict
from registry.ledger.canonical import (
    ENCODER,
    NeedsReference,
    canonicalize,
    float_text,
    prepare,
)
from registry.ledger.records import (
    MAX_DEPTH,
    RECORD_SCHEMA,
    build_record,
    canonical_bytes,
    format_time,
    json_number,
    json_safe,
)

#: The record's members in RFC 8785 order (all keys are ASCII, so code-point order).
RECORD_KEYS = (
    "asset_sha256",
    "created_at",
    "detector",
    "elapsed_ms",
    "error",
    "evidence",
    "key_id",
    "label",
    "log_index",
    "model_checksum",
    "p_value",
    "positive",
    "schema",
    "score",
    "version",
)
_TEMPLATE = "{" + ",".join(f'"{key}":%s' for key in RECORD_KEYS) + "}"


@dataclass(frozen=True, slots=True)
class EncodedRecord:
    """What the ledger stores for one verdict besides its signature and Merkle leaf."""

    canonical: bytes
    evidence_json: str
    score: float | int | None
    p_value: float | int | None


def _walk(value: Any, depth: int = 0) -> Any:
    """``prepare(json_safe(value))`` in one pass; raises :class:`NeedsReference` like it.

    Values ``json_safe`` rewrites (integers and integral floats beyond 2**53, lone
    surrogates, deep nesting) make ``prepare`` or this walk refuse, so they take the
    reference path, which applies ``json_safe`` itself."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is float:
        return prepare(value) if math.isfinite(value) else str(value)
    if kind is int:
        return prepare(value)
    if (kind is dict or kind is list) and depth >= MAX_DEPTH:
        raise NeedsReference
    if kind is dict:
        walked = {}
        for key, item in value.items():
            if type(key) is not str:
                key = str(key)
            if not key.isascii() and max(key) > "\uffff":
                raise NeedsReference
            walked[key] = _walk(item, depth + 1)
        return walked
    if kind is list:
        return [_walk(item, depth + 1) for item in value]
    return prepare(json_safe(value))  # tuples, numpy scalars, bytes, subclasses ...


def _text(prepared: Any) -> str:
    """JSON text of a value :func:`prepare` accepted (the C encoder's exact output)."""
    kind = type(prepared)
    if kind is str:
        return str(encode_basestring(prepared))
    if prepared is None:
        return "null"
    if kind is bool:
        return "true" if prepared else "false"
    if kind is int:
        return str(prepared)
    if kind is float:
        return float.__repr__(prepared)
    return ENCODER.encode(prepared)


def _member(value: Any) -> str:
    """JSON text of a record member taken from the verdict as it is (no ``json_safe``)."""
    if type(value) is str:
        return str(encode_basestring(value))
    return _text(prepare(value))


def _scalar(value: Any) -> str:
    """JSON text of a record member that ``json_safe`` already coerced, if it is a scalar.

    Floats of any magnitude are written here (:func:`registry.ledger.canonical.float_text`), so a
    p-value of 1e-9 does not send the whole record to the reference implementation.
    """
    kind = type(value)
    if kind is float:
        return float_text(value)
    if kind is str or kind is int or kind is bool or value is None:
        return _text(prepare(value))
    raise NeedsReference


def _number(value: Any) -> float | int | None:
    """The record's ``score`` / ``p_value`` member, as ``build_record`` makes it."""
    return json_number(value)


def _evidence(value: Any) -> str:
    """Canonical JSON text of the evidence: one walk, or the reference for unusual values."""
    try:
        return _text(_walk(value))
    except NeedsReference:  # e.g. a float below 1e-4 inside: the C encoder cannot write it
        pass
    try:
        return canonicalize(json_safe(value)).decode("utf-8")
    except rfc8785.CanonicalizationError as exc:  # the whole record's reference path raises
        raise NeedsReference from exc  # the error it would have raised anyway


@dataclass(frozen=True, slots=True)
class BatchContext:
    """The members every record of one batch shares, encoded once for the batch."""

    key_id: str
    created_at: datetime
    key_id_text: str
    created_at_text: str

    @classmethod
    def create(cls, key_id: str, created_at: datetime) -> BatchContext:
        """The context for records signed by ``key_id`` at ``created_at``."""
        return cls(
            key_id, created_at, _text(prepare(key_id)), _text(prepare(format_time(created_at)))
        )


def encode_record(verdict: Verdict, *, log_index: int, context: BatchContext) -> EncodedRecord:
    """The signed record of ``verdict`` at ``log_index`` and its evidence as JSON text."""
    try:
        evidence = _evidence(verdict.evidence)
        score = _number(verdict.score)
        p_value = _number(verdict.p_value)
        text = _TEMPLATE % (
            _member(verdict.asset_sha256),
            context.created_at_text,
            _member(verdict.detector),
            _scalar(json_safe(verdict.elapsed_ms)),
            _member(verdict.error),
            evidence,
            context.key_id_text,
            _member(verdict.label),
            _text(prepare(log_index)),
            _member(verdict.model_checksum),
            _scalar(p_value),
            "true" if verdict.positive else "false",
            _SCHEMA_TEXT,
            _scalar(score),
            _member(verdict.version),
        )
        if "\\u0000" in text:  # a NUL in some string: the reference replaces it (records.py)
            raise NeedsReference
        return EncodedRecord(text.encode("utf-8"), evidence, score, p_value)
    except (NeedsReference, UnicodeEncodeError):
        return _reference(verdict, log_index, context)


def _reference(verdict: Verdict, log_index: int, context: BatchContext) -> EncodedRecord:
    record = build_record(
        verdict, log_index=log_index, key_id=context.key_id, created_at=context.created_at
    )
    return EncodedRecord(
        canonical_bytes(record),
        canonicalize(record["evidence"]).decode("utf-8"),
        cast(float | int | None, record["score"]),
        cast(float | int | None, record["p_value"]),
    )


_SCHEMA_TEXT = _text(RECORD_SCHEMA)
