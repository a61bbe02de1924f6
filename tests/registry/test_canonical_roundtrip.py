"""Issue 11, item 1: hostile numbers and strings survive sign -> PostgreSQL -> verify.

Reproduces the two reported failures (a ComfyUI ``1e23`` read back by JSONB as another
number, a Fooocus 64-bit seed that made signing raise), checks that entries written with the
v1 encoding still verify, drives arbitrary JSON evidence through both write paths (the COPY
batch writer and an ORM insert of a record built by the reference encoder), and checks that
verify reports every bad index, not only the first.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from detectors.base import JSONValue, Verdict
from registry.db.models import VerdictRow
from registry.errors import LedgerIntegrityError
from registry.ledger import merkle, record_encoding
from registry.ledger.canonical import canonicalize
from registry.ledger.checkpoint import vkey
from registry.ledger.records import (
    MAX_DEPTH,
    TOO_DEEP,
    build_record,
    canonical_bytes,
    json_safe,
)
from registry.ledger.signing import Signer, Verifier
from registry.ledger.verify import scan_ledger, verify_entry, verify_ledger
from registry.ledger.writer import Ledger
from registry.testing.ledger_helpers import ORIGIN, ensure_assets, seed, synthetic_verdicts

SIGNER = Signer.generate()
VERIFIER = Verifier({SIGNER.key_id: SIGNER.public_key})
VKEYS = [vkey(ORIGIN, SIGNER.public_key)]


def _verdict(evidence: Mapping[str, Any], *, tag: str = "x", score: Any = 0.5) -> Verdict:
    return Verdict(
        detector="metadata",
        version="1.0",
        model_checksum=None,
        asset_sha256=hashlib.sha256(tag.encode()).hexdigest(),
        label="comfyui",
        positive=True,
        score=score,
        evidence=dict(evidence),
    )


def _stored(session: Session, index: int) -> VerdictRow:
    row = session.scalars(select(VerdictRow).where(VerdictRow.log_index == index)).one()
    session.refresh(row)
    return row


def _round_trips(row: VerdictRow) -> None:
    """The stored JSONB, re-encoded, is byte for byte the evidence that was signed."""
    signed = json.loads(bytes(row.canonical))["evidence"]
    assert canonicalize(row.evidence) == canonicalize(signed)
    verify_entry(row, VERIFIER)


def test_comfyui_1e23_and_1e308_verify(db_session: Session) -> None:
    ledger = Ledger(SIGNER, ORIGIN)
    evidence = {
        "workflow": {
            "cfg": 1e23,
            "huge": 1e308,
            "tiny": 1e-7,
            "neg_zero": -0.0,
            "nan": math.nan,
            "inf": -math.inf,
            "half": 2.5,
        }
    }
    [entry] = seed(db_session, ledger, [_verdict(evidence)])
    db_session.flush()
    row = _stored(db_session, entry.log_index)
    assert row.evidence["workflow"]["cfg"] == "1e+23"
    assert row.evidence["workflow"]["huge"] == "1e+308"
    assert row.evidence["workflow"]["neg_zero"] == 0
    assert row.evidence["workflow"]["nan"] == "nan"
    _round_trips(row)
    assert verify_ledger(db_session, VERIFIER, VKEYS).tree_size == entry.log_index + 1


def test_fooocus_64_bit_seed_signs_and_verifies(db_session: Session) -> None:
    ledger = Ledger(SIGNER, ORIGIN)
    seed_value = 6952411511246973023
    [entry] = seed(
        db_session,
        ledger,
        [_verdict({"seed": seed_value, "neg": -(2**70), "ok": 2**53 - 1}, score=2**60)],
    )
    db_session.flush()
    row = _stored(db_session, entry.log_index)
    assert row.evidence == {"seed": str(seed_value), "neg": str(-(2**70)), "ok": 2**53 - 1}
    assert row.score is None  # beyond 2**53 a score cannot round-trip: recorded as null
    _round_trips(row)


def test_nul_surrogates_and_deep_nesting(db_session: Session) -> None:
    deep: JSONValue = "leaf"
    for _ in range(MAX_DEPTH + 50):
        deep = [deep]
    evidence = {"a\x00b": "c\x00d", "name": "latin1-\udce9.jpg", "deep": deep}
    [entry] = seed(db_session, Ledger(SIGNER, ORIGIN), [_verdict(evidence)])
    db_session.flush()
    row = _stored(db_session, entry.log_index)
    assert row.evidence["a\ufffdb"] == "c\ufffdd"
    assert row.evidence["name"] == "latin1-\ufffd.jpg"
    walked: Any = row.evidence["deep"]
    depth = 1  # evidence itself is level 0
    while isinstance(walked, list):
        walked, depth = walked[0], depth + 1
    assert walked == TOO_DEEP and depth == MAX_DEPTH
    _round_trips(row)


def _v1_json_safe(value: Any) -> JSONValue:
    """The evidence coercion of the v1 encoding, as it was before issue 11."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(key): _v1_json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_v1_json_safe(item) for item in value]
    return str(value)


def test_v1_entries_with_exponent_floats_still_verify(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries signed before this fix (v1, ``1e+23`` in the signed bytes) verify now."""
    monkeypatch.setattr(record_encoding, "json_safe", _v1_json_safe)
    monkeypatch.setattr(record_encoding, "_SCHEMA_TEXT", '"provreg.verdict/v1"')
    ledger = Ledger(SIGNER, ORIGIN)
    [entry] = seed(db_session, ledger, [_verdict({"cfg": 1e23, "big": 1e308})])
    monkeypatch.undo()
    db_session.flush()
    row = _stored(db_session, entry.log_index)
    signed = json.loads(bytes(row.canonical))
    assert signed["schema"] == "provreg.verdict/v1" and b"1e+23" in bytes(row.canonical)
    assert row.evidence["cfg"] == 10**23  # JSONB gave back another spelling (and type)
    verify_entry(row, VERIFIER)
    verify_ledger(db_session, VERIFIER, VKEYS)


_SURROGATES = st.sampled_from(["\udce9", "\ud800", "\udfff\ud83d"])
_TEXT = st.one_of(st.text(max_size=12), _SURROGATES, st.just("nul\x00nul"))
_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e23, 1e308, -0.0, 5e-324, 1e21, 9007199254740993.0, 1e-7, 2.5e-5]),
)
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), _NUMBERS, _TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=20,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(evidence=st.dictionaries(_TEXT, _JSON, max_size=5), score=_NUMBERS)
def test_arbitrary_evidence_round_trips_through_postgresql(
    db_session: Session, evidence: dict[str, Any], score: Any
) -> None:
    ledger = Ledger(SIGNER, ORIGIN)
    copy_verdict = _verdict(evidence, tag="copy-path", score=score)
    orm_verdict = _verdict(evidence, tag="orm-path", score=score)
    nested = db_session.begin_nested()
    try:
        ledger.register_key(db_session)
        ensure_assets(db_session, [copy_verdict, orm_verdict])
        [entry] = ledger.append(db_session, [copy_verdict])  # the COPY batch writer
        index = entry.log_index + 1
        record = build_record(  # the reference encoder, inserted through the ORM
            orm_verdict, log_index=index, key_id=SIGNER.key_id, created_at=datetime.now(UTC)
        )
        canonical = canonical_bytes(record)
        db_session.add(
            VerdictRow(
                log_index=index,
                asset_sha256=orm_verdict.asset_sha256,
                detector="metadata",
                version="1.0",
                model_checksum=None,
                label="comfyui",
                positive=True,
                score=record["score"],
                p_value=record["p_value"],
                error=None,
                evidence=record["evidence"],
                created_at=datetime.strptime(
                    str(record["created_at"]), "%Y-%m-%dT%H:%M:%S.%fZ"
                ).replace(tzinfo=UTC),
                canonical=canonical,
                leaf_hash=merkle.leaf_hash(canonical),
                signature=SIGNER.sign(canonical),
                key_id=SIGNER.key_id,
            )
        )
        db_session.flush()
        db_session.expire_all()
        copy_row = _stored(db_session, entry.log_index)
        orm_row = _stored(db_session, index)
        _round_trips(copy_row)
        _round_trips(orm_row)
        assert canonicalize(copy_row.evidence) == canonicalize(orm_row.evidence)
        assert canonicalize(copy_row.evidence) == canonicalize(json_safe(evidence))
    finally:
        nested.rollback()
        db_session.expire_all()


def test_verify_reports_every_bad_index(db_session: Session) -> None:
    ledger = Ledger(SIGNER, ORIGIN)
    entries = seed(db_session, ledger, synthetic_verdicts(12, start=900))
    ledger.checkpoint(db_session)
    db_session.flush()
    first = entries[0].log_index
    bad = [first + 2, first + 5, first + 9]
    db_session.execute(text("SET LOCAL session_replication_role = replica"))
    for index in bad:
        db_session.execute(
            text("UPDATE verdicts SET label = 'sdxl-forged' WHERE log_index = :i"), {"i": index}
        )
    db_session.expire_all()
    report = scan_ledger(db_session, VERIFIER, VKEYS)
    assert not report.ok and not report.truncated
    assert [error.index for error in report.errors] == bad
    assert all("label" in error.reason for error in report.errors)
    limited = scan_ledger(db_session, VERIFIER, VKEYS, max_errors=2)
    assert [error.index for error in limited.errors] == bad[:2] and limited.truncated
    with pytest.raises(LedgerIntegrityError) as caught:
        verify_ledger(db_session, VERIFIER, VKEYS)
    assert caught.value.index == bad[0]
