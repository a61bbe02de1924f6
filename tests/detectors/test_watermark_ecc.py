"""BCH error correction on learned decoders' bits: known codewords, errors within and beyond
capacity, TrustMark packets, and the detector's ``ecc`` evidence."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from detectors.testing.conformance import sample_from_bytes
from detectors.testing.watermark_fixtures import encode, photo
from detectors.testing.watermark_learned_fixtures import (
    spread_embed,
    spread_manifest,
    write_spread_decoder,
)
from detectors.watermark import WatermarkDetector
from detectors.watermark.ecc import BchCodec, EccError, TrustMarkCodec, parse_ecc
from detectors.watermark.files import sha256_file
from detectors.watermark.stats import binomial_tail

# Packets produced by the trustmark package's own data layer (trustmark 0.9.2 sdist, SHA-256
# bcaa3bc38ead1c0558df81932672f34e306efaed31389da57dbed100e236b28a, DataLayer(100, False, mode)
# .encode_binary([data])), one per schema: (version, data bits, packet).
TRUSTMARK_VECTORS = [
    (
        0,
        "0000000010011111110011011011101111110100",
        "0000000010011111110011011011101111110100110110101111011110000001100011100011000010011101"
        "110011110000",
    ),
    (
        1,
        "0001100010011100100110111110110011101010010101110010101100011",
        "0001100010011100100110111110110011101010010101110010101100011101001101010101011100010101"
        "111100100001",
    ),
    (
        2,
        "11011101101100101110111010100011010111101000100111001011101101100100",
        "1101110110110010111011101010001101011110100010011100101110110110010001100000010010000011"
        "001100010010",
    ),
    (
        3,
        "010010010011010100111101011100111000110111111110011111000010111110110101011",
        "0100100100110101001111010111001110001101111111100111110000101111101101010110001111111111"
        "100110100011",
    ),
]
SCHEMAS = {0: ("BCH_SUPER", 8), 1: ("BCH_5", 5), 2: ("BCH_4", 4), 3: ("BCH_3", 3)}


def _bits(text: str) -> tuple[int, ...]:
    return tuple(int(c) for c in text)


def _flip(bits: tuple[int, ...], where: list[int]) -> tuple[int, ...]:
    out = list(bits)
    for i in where:
        out[i] ^= 1
    return tuple(out)


@pytest.mark.parametrize(("version", "data", "packet"), TRUSTMARK_VECTORS)
def test_trustmark_packets_match_the_packages_own_encoder(
    version: int, data: str, packet: str
) -> None:
    assert TrustMarkCodec().encode(_bits(data)) == _bits(packet)
    assert _bits(packet)[-4:] == _bits(format(version, "04b"))


@pytest.mark.parametrize(("version", "data", "packet"), TRUSTMARK_VECTORS)
def test_trustmark_correction_within_and_beyond_capacity(
    version: int, data: str, packet: str
) -> None:
    codec, rng = TrustMarkCodec(), random.Random(version)
    name, t = SCHEMAS[version]
    clean = codec.correct(_bits(packet))
    assert (clean.schema, clean.decoded, clean.corrected_bits, clean.data) == (
        name,
        True,
        0,
        _bits(data),
    )
    for errors in range(1, t + 1):  # within capacity: every error corrected, counted
        fixed = codec.correct(_flip(_bits(packet), rng.sample(range(96), errors)))
        assert fixed.decoded and fixed.corrected_bits == errors and fixed.data == _bits(data)
    for _ in range(20):  # beyond capacity: never the original data
        fixed = codec.correct(_flip(_bits(packet), rng.sample(range(96), t + 3)))
        assert fixed.data != _bits(data)
        assert fixed.evidence(_bits(data), with_data=False)["payload_match"] is False


def test_generic_bch_known_codeword_and_errors() -> None:
    # bchlib (the kernel BCH) and TrustMark's BCH_5 agree: same code, same parity.
    codec = BchCodec(t=5, prim_poly=137, data_bits=61)
    _, data, packet = TRUSTMARK_VECTORS[1]
    assert codec.encode(_bits(data)) == _bits(packet)[:96]
    assert codec.n == 96 and codec.parity == 35
    received = _flip(_bits(packet)[:96], [0, 17, 60, 61, 95])
    fixed = codec.correct(received)
    assert fixed.decoded and fixed.corrected_bits == 5 and fixed.data == _bits(data)
    assert codec.correct(_flip(received, [30, 40, 50])).data != _bits(data)


def test_bad_ecc_descriptions_are_refused() -> None:
    with pytest.raises(EccError, match="96 bits"):
        parse_ecc({"type": "bch", "t": 5, "data_bits": 61}, 100, "d")
    with pytest.raises(EccError, match="positive integer"):
        parse_ecc({"type": "bch", "t": 0, "data_bits": 8}, 16, "d")
    with pytest.raises(EccError, match="exceed"):
        parse_ecc({"type": "bch", "t": 5, "data_bits": 100}, 135, "d")
    with pytest.raises(EccError, match="needs bits 100"):
        parse_ecc("trustmark", 32, "d")
    with pytest.raises(EccError, match="ecc must be"):
        parse_ecc("reed-solomon", 32, "d")


# A 32-bit decoder carrying a BCH(t=2) codeword: 18 data bits + 14 parity bits.
BCH32 = {"type": "bch", "t": 2, "prim_poly": 137, "data_bits": 18}
DATA18 = "101100111000101101"


def _bch_detector(tmp_path: Path, payload: str = DATA18) -> WatermarkDetector:
    path = write_spread_decoder(tmp_path / "spread.pt")
    entry = {**spread_manifest(sha256_file(path)), "path": str(path), "ecc": BCH32}
    return WatermarkDetector(
        {
            "builtin": False,
            "decoders": [entry],
            "payloads": [{"name": "acme", "bits": payload, "method": "acme-spread"}],
        }
    )


def test_detector_corrects_bch_before_matching(tmp_path: Path) -> None:
    detector = _bch_detector(tmp_path)
    codeword = BchCodec(2, 137, 18).encode(_bits(DATA18))
    samples = [
        sample_from_bytes(encode(spread_embed(photo("chelsea"), codeword))),
        sample_from_bytes(encode(spread_embed(photo("chelsea"), _flip(codeword, [3, 25])))),
        sample_from_bytes(encode(spread_embed(photo("chelsea"), _flip(codeword, [1, 9, 20, 30])))),
    ]
    clean, within, beyond = detector.detect_batch(samples)
    row = clean.evidence["best"]
    assert isinstance(row, dict)
    assert clean.label == "acme" and row["n"] == 32
    assert row["ecc"] == {
        "schema": "BCH(t=2,poly=137)",
        "decoded": True,
        "corrected_bits": 0,
        "payload_match": True,
        "data_bits": DATA18,
    }
    within_row = within.evidence["best"]
    assert isinstance(within_row, dict) and isinstance(within_row["ecc"], dict)
    assert within_row["ecc"]["corrected_bits"] == 2 and within_row["ecc"]["payload_match"]
    # "Correct, then match" has the hard test's p-value on the codeword: n - corrected agree.
    assert within_row["k"] == 30 and within_row["p_value_hard"] == binomial_tail(30, 32)
    beyond_row = beyond.evidence["best"]
    assert isinstance(beyond_row, dict) and isinstance(beyond_row["ecc"], dict)
    assert beyond_row["ecc"]["payload_match"] is False and beyond_row["k"] == 28


def test_wrong_payload_is_rejected_and_data_payload_length_enforced(tmp_path: Path) -> None:
    codeword = BchCodec(2, 137, 18).encode(_bits(DATA18))
    sample = sample_from_bytes(encode(spread_embed(photo("chelsea"), codeword)))
    other = "010011000111010010"
    (verdict,) = _bch_detector(tmp_path, other).detect_batch([sample])
    row = verdict.evidence["best"]
    assert not verdict.positive and isinstance(row, dict) and isinstance(row["ecc"], dict)
    assert row["ecc"]["payload_match"] is False and row["ecc"]["decoded"] is True
    with pytest.raises(ValueError, match="reads"):
        _bch_detector(tmp_path, "0x3C96A5E1")  # 32 bits: the codeword, not the data
