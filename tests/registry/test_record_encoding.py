"""The one-walk record encoder gives exactly the reference record's bytes, or its error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import Verdict
from registry.ledger.record_encoding import RECORD_KEYS, BatchContext, encode_record
from registry.ledger.records import build_record, canonical_bytes

NOW = datetime(2026, 11, 22, 18, 0, 1, 234567, tzinfo=UTC)
KEY_ID = "ab" * 32
CONTEXT = BatchContext.create(KEY_ID, NOW)

floats = st.floats() | st.sampled_from(
    [0.0, -0.0, 1e-4, 9.99e-5, 1e16, 1e21, 2.0**53, 2.0**53 + 2, 5e-324, 123456789.125]
)
ints = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1) | st.sampled_from(
    [2**53, -(2**53), 2**63]
)
texts = st.text() | st.sampled_from(
    ['\t\n\r\\"', "\u2028\x7f\x1f", "caf\u00e9", "\U0001f600", "\ud800 lone", "\\u0041"]
)
keys = texts | st.integers(-5, 5) | st.sampled_from(["\ufb01", "\U0001f600", "a", "A"])
scalars = (
    st.none()
    | st.booleans()
    | ints
    | floats
    | texts
    | st.binary(max_size=4)
    | st.builds(np.float32, st.floats(width=32))
    | st.builds(np.int64, st.integers(-99, 99))
)
evidence_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=20,
)
verdicts = st.builds(
    Verdict,
    detector=texts,
    version=st.sampled_from(["1.0", "2"]) | texts,
    model_checksum=st.none() | texts,
    asset_sha256=st.sampled_from(["0" * 64, "f" * 64]) | texts,
    label=texts,
    positive=st.booleans(),
    score=st.none() | floats | ints | st.builds(np.float64, st.floats()),
    p_value=st.none() | floats,
    evidence=st.dictionaries(keys, evidence_values, max_size=5),
    error=st.none() | texts,
    elapsed_ms=floats | ints,
)


def _reference(verdict: Verdict, log_index: int) -> tuple[dict[str, Any], bytes]:
    record = build_record(verdict, log_index=log_index, key_id=KEY_ID, created_at=NOW)
    return record, canonical_bytes(record)


@settings(max_examples=600, deadline=None)
@given(verdicts, st.integers(0, 2**40))
@pytest.mark.slow
def test_matches_reference_byte_for_byte(verdict: Verdict, log_index: int) -> None:
    try:
        record, expected = _reference(verdict, log_index)
    except Exception as exc:  # the reference refuses: the encoder must refuse the same way
        with pytest.raises(type(exc)):
            encode_record(verdict, log_index=log_index, context=CONTEXT)
        return
    encoded = encode_record(verdict, log_index=log_index, context=CONTEXT)
    assert encoded.canonical == expected
    assert encoded.evidence_json == canonical_bytes(record["evidence"]).decode()
    assert encoded.score == record["score"] and encoded.p_value == record["p_value"]


def test_template_keys_are_the_record_keys_in_rfc8785_order() -> None:
    record, _ = _reference(Verdict("d", "1", None, "0" * 64, "l", False), 0)
    assert list(RECORD_KEYS) == sorted(record)


def test_evidence_text_is_canonical_and_shared_with_the_signed_bytes() -> None:
    verdict = Verdict(
        "watermark",
        "1.0",
        None,
        "0" * 64,
        "sdxl",
        True,
        0.5,
        1e-9,
        evidence={"z": [1.0, float("nan"), b"\x01"], "a": {"tab": "x\ty", 3: (1, 2)}},
    )
    encoded = encode_record(verdict, log_index=7, context=CONTEXT)
    _, expected = _reference(verdict, 7)
    assert encoded.canonical == expected
    assert encoded.evidence_json == '{"a":{"3":[1,2],"tab":"x\\ty"},"z":[1,"nan","01"]}'
    assert f'"evidence":{encoded.evidence_json},'.encode() in encoded.canonical


def test_values_only_the_reference_may_encode_take_the_reference_path() -> None:
    for evidence in ({"\U0001f600": 1, "\uffff": 2}, {"tiny": 1e-7, "big": 1e300}):
        verdict = Verdict("d", "1", None, "0" * 64, "l", False, evidence=evidence)
        encoded = encode_record(verdict, log_index=1, context=CONTEXT)
        assert encoded.canonical == _reference(verdict, 1)[1]


def test_small_p_values_and_scores_stay_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("took the reference path")

    monkeypatch.setattr("registry.ledger.record_encoding._reference", refuse)
    for p_value, score in ((1e-9, 3e-5), (2.5e-300, 1e17), (0.0, 2.0**60), (1e21, -1e-7)):
        verdict = Verdict("w", "1", None, "0" * 64, "sdxl", True, score, p_value, elapsed_ms=1e-6)
        encoded = encode_record(verdict, log_index=3, context=CONTEXT)
        assert encoded.canonical == _reference(verdict, 3)[1]


def test_nul_characters_are_replaced_in_every_string_the_same_way_on_both_paths() -> None:
    """PostgreSQL text/jsonb cannot hold U+0000: a hostile PNG text chunk must not make the
    batch fail, so NULs become U+FFFD in the signed record and in the stored columns alike."""
    verdict = Verdict(
        detector="metadata",
        version="1.0.0",
        model_checksum=None,
        asset_sha256="0" * 64,
        label="a1111\x00",
        positive=True,
        error="bad\x00detail",
        evidence={
            "prompt": "a cat\x00 in a hat",
            "key\x00": ["\x00", {"deep": "x\x00y"}],
            "small_p": 1e-9,
        },
    )
    encoded = encode_record(verdict, log_index=7, context=CONTEXT)
    reference = build_record(verdict, log_index=7, key_id=KEY_ID, created_at=NOW)
    assert encoded.canonical == canonical_bytes(reference)
    assert b"\\u0000" not in encoded.canonical
    assert "\\u0000" not in encoded.evidence_json
    assert reference["label"] == "a1111\ufffd" and reference["error"] == "bad\ufffddetail"
    evidence = reference["evidence"]
    assert isinstance(evidence, dict)
    assert evidence["prompt"] == "a cat\ufffd in a hat"
    assert evidence["key\ufffd"] == ["\ufffd", {"deep": "x\ufffdy"}]


def test_a_literal_backslash_u0000_without_a_nul_is_signed_as_typed() -> None:
    verdict = Verdict(
        detector="d",
        version="1",
        model_checksum=None,
        asset_sha256="1" * 64,
        label="x",
        positive=False,
        evidence={"text": "C:\\u0000dir"},
    )
    encoded = encode_record(verdict, log_index=0, context=CONTEXT)
    assert encoded.canonical == canonical_bytes(
        build_record(verdict, log_index=0, key_id=KEY_ID, created_at=NOW)
    )
    assert '"C:\\\\u0000dir"' in encoded.evidence_json
