"""Conformance and behaviour tests for the C2PA detector, on images the tests sign themselves."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import pickle
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import c2pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.base import ERROR_LABEL, NOT_FOUND, Sample, Verdict
from detectors.c2pa_detector import C2paConfigError, C2paDetector
from detectors.testing import c2pa_fixtures as fx
from detectors.testing.conformance import DetectorConformance, sample_from_bytes


def _detect(data: bytes, **options: Any) -> Verdict:
    detector = C2paDetector(options)
    (verdict,) = detector.detect_batch([sample_from_bytes(data)])
    return verdict


def _evidence(verdict: Verdict) -> dict[str, Any]:
    """The evidence as plain JSON (``Any``-typed, so tests can index into it)."""
    evidence: dict[str, Any] = json.loads(json.dumps(verdict.evidence, allow_nan=False))
    return evidence


def _codes(verdict: Verdict, kind: str) -> list[str]:
    validation = verdict.evidence["validation"]
    assert isinstance(validation, dict)
    entries = validation[kind]
    assert isinstance(entries, list)
    return [str(entry["code"]) for entry in entries if isinstance(entry, dict)]


def _generated(fmt: str = "JPEG", seed: int = 1, source: str = fx.TRAINED) -> bytes:
    return fx.sign(fx.noise_bytes(seed, fmt), fmt, fx.created_manifest(source, f"gen.{fmt}"))


class TestC2pa(DetectorConformance):
    detector_class = C2paDetector

    def positive_examples(self) -> list[tuple[Sample, str]]:
        return [
            (sample_from_bytes(_generated("JPEG", 1)), "c2pa"),
            (sample_from_bytes(_generated("PNG", 2)), "c2pa"),
            (sample_from_bytes(_generated("JPEG", 3, fx.COMPOSITE_TRAINED)), "c2pa"),
            (sample_from_bytes(_generated("PNG", 4, fx.ALGORITHMIC)), "c2pa"),
        ]

    def negative_examples(self) -> list[Sample]:
        capture = fx.created_manifest(fx.DIGITAL_CAPTURE, "photo.jpg")
        return [
            sample_from_bytes(fx.sign(fx.noise_bytes(5), "JPEG", capture)),
            sample_from_bytes(fx.sign_derivative(fx.noise_bytes(6), "JPEG", "PNG")),
            sample_from_bytes(fx.noise_bytes(7)),
            sample_from_bytes(fx.noise_bytes(8, "PNG")),
        ]


# --- generated media, validation state and trust -----------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_generated_is_positive_and_valid_without_anchors(fmt: str) -> None:
    verdict = _detect(_generated(fmt))
    assert verdict.label == "c2pa" and verdict.positive
    assert verdict.p_value is None and verdict.score == 0.8
    assert verdict.model_checksum is None
    evidence = _evidence(verdict)
    assert evidence["validation_state"] == "Valid"
    assert "signingCredential.untrusted" in _codes(verdict, "failure")
    assert "claimSignature.validated" in _codes(verdict, "success")
    assert "assertion.dataHash.match" in _codes(verdict, "success")
    assert "signingCredential.ocsp.skipped" in _codes(verdict, "informational")
    assert str(evidence["active_manifest"]).startswith("urn:c2pa:")
    assert evidence["declares_trained_model"] is True
    (action,) = evidence["actions"]
    assert action == {
        "action": "c2pa.created",
        "digitalSourceType": fx.TRAINED,
        "softwareAgent": {"name": "provreg-fixture-generator", "version": "1.0"},
        "when": "2026-01-02T03:04:05Z",
        "description": None,
    }
    info = evidence["claim_generator_info"]
    assert isinstance(info, list) and info[0]["name"] == "provreg-tests"
    assert "claim_generator" in evidence
    signature = evidence["signature"]
    assert isinstance(signature, dict)
    assert signature["alg"] == "Es256"
    assert signature["issuer"] == "provreg tests"
    assert signature["common_name"] == "provreg test signer"
    assert "time" in signature  # null: the fixtures use no timestamp authority
    json.dumps(evidence, allow_nan=False)


def test_trusted_with_the_signing_root_as_anchor(tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(fx.default_pki().root_pem)
    verdict = _detect(_generated(), trust_anchors=str(anchors))
    assert verdict.positive and verdict.score == 1.0
    assert verdict.evidence["validation_state"] == "Trusted"
    assert "signingCredential.trusted" in _codes(verdict, "success")
    assert _codes(verdict, "failure") == []
    digest = hashlib.sha256(anchors.read_bytes()).hexdigest()
    assert verdict.model_checksum == digest
    assert verdict.evidence["trust_anchors_sha256"] == digest


def test_an_unrelated_anchor_does_not_trust(tmp_path: Path) -> None:
    anchors = tmp_path / "other.pem"
    anchors.write_bytes(fx.make_pki().root_pem)
    verdict = _detect(_generated(), trust_anchors=anchors)
    assert verdict.evidence["validation_state"] == "Valid"
    assert "signingCredential.untrusted" in _codes(verdict, "failure")


@pytest.mark.parametrize(
    "content",
    ["", "not a certificate\n", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
)
def test_bad_trust_anchor_option_fails_at_load(tmp_path: Path, content: str) -> None:
    path = tmp_path / "anchors.pem"
    path.write_text(content)
    with pytest.raises(C2paConfigError):
        C2paDetector({"trust_anchors": str(path)}).load()
    with pytest.raises(C2paConfigError):
        C2paDetector({"trust_anchors": str(tmp_path / "missing.pem")}).load()


# --- non-generative manifests, tampering, missing manifests -----------------------------


def _captured(fmt: str) -> bytes:
    return fx.sign(fx.noise_bytes(11, fmt), fmt, fx.created_manifest(fx.DIGITAL_CAPTURE))


@pytest.mark.parametrize(
    "make",
    [
        lambda: _captured("JPEG"),
        lambda: _captured("PNG"),
        lambda: fx.sign_derivative(fx.noise_bytes(12), "JPEG", "PNG"),  # unsigned parent
        lambda: fx.sign_derivative(_captured("PNG"), "PNG", "JPEG"),  # captured parent
    ],
    ids=["capture-jpeg", "capture-png", "edit-of-unsigned", "edit-of-capture"],
)
def test_non_generative_manifest_is_c2pa_but_not_positive(make: Callable[[], bytes]) -> None:
    verdict = _detect(make())
    assert verdict.label == "c2pa" and not verdict.positive
    assert verdict.score == 0.0
    assert verdict.evidence["validation_state"] == "Valid"
    assert verdict.evidence["declares_generated"] is False
    assert "no generated" in str(verdict.evidence["why"])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_tampered_asset_is_invalid_with_hash_mismatch(fmt: str) -> None:
    signed = _generated(fmt, seed=12)
    verdict = _detect(fx.tamper(signed, fmt))
    assert verdict.label == "c2pa" and verdict.error is None
    assert verdict.evidence["validation_state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in _codes(verdict, "failure")
    assert "assertion.dataHash.mismatch" in _evidence(verdict)["failure_codes"]
    # The claim was still made: positive, but scored low and said to be unverified.
    assert verdict.positive and verdict.score == 0.3
    assert "NOT validate" in str(verdict.evidence["why"])


def test_no_manifest_and_stripped_manifest_are_not_found() -> None:
    signed = _generated("JPEG", seed=13)
    for data in (fx.noise_bytes(13), fx.strip(signed, "JPEG"), fx.strip(signed, "PNG")):
        verdict = _detect(data)
        assert verdict.label == NOT_FOUND and not verdict.positive and verdict.error is None
        assert verdict.evidence == {"manifest_present": False}


def test_clean_photographs_give_no_positives() -> None:
    detector = C2paDetector()
    files = fx.null_files()
    assert len(files) == 2 * len(fx.NULL_SET_NAMES)
    verdicts = detector.detect_batch([sample_from_bytes(data) for _, data in files])
    for (name, _), verdict in zip(files, verdicts, strict=True):
        assert verdict.label == NOT_FOUND and not verdict.positive, (name, verdict)


def test_unreadable_bytes_are_errors_with_reasons() -> None:
    detector = C2paDetector()
    png_header_then_junk = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    verdicts = detector.detect_batch(
        [
            Sample(sha256="a" * 64, data=b"", media_type="image/png"),
            Sample(sha256="b" * 64, data=b"plain text", media_type="image/jpeg"),
            Sample(sha256="c" * 64, data=png_header_then_junk, media_type="image/png"),
        ]
    )
    assert [v.label for v in verdicts] == [ERROR_LABEL] * 3
    assert verdicts[0].error == "empty-input"
    assert verdicts[1].error == "unsupported-format"
    assert verdicts[2].error == "c2pa-unreadable"
    assert verdicts[2].evidence["exception"]


# --- claims and ingredients ------------------------------------------------------------


def test_claim_v1_records_the_claim_generator_string() -> None:
    manifest = fx.created_manifest(fx.TRAINED) | {
        "claim_version": 1,
        "claim_generator": "provreg-tests/1.0",
    }
    verdict = _detect(fx.sign(fx.noise_bytes(14), "JPEG", manifest))
    assert verdict.positive
    assert verdict.evidence["claim_version"] == 1
    assert isinstance(verdict.evidence["claim_generator"], str)
    assert verdict.evidence["claim_generator_info"]


def test_generated_parent_ingredient_makes_the_derivative_positive() -> None:
    parent = _generated("JPEG", seed=15)
    verdict = _detect(fx.sign_derivative(parent, "JPEG", "PNG", edit="c2pa.color_adjustments"))
    assert verdict.label == "c2pa" and verdict.positive
    assert verdict.score == pytest.approx(0.7)
    evidence = _evidence(verdict)
    assert evidence["validation_state"] == "Valid"
    assert [a["action"] for a in evidence["actions"]] == ["c2pa.opened", "c2pa.color_adjustments"]
    (recorded,) = evidence["ingredients"]
    assert recorded["title"] == "parent.jpeg"
    assert recorded["format"] == "image/jpeg"
    assert recorded["relationship"] == "parentOf"
    assert "claimSignature.validated" in [e["code"] for e in recorded["validation"]["success"]]
    (declaration,) = evidence["source_type_declarations"]
    assert declaration["via_ingredient"] is True
    assert declaration["code"] == "trainedAlgorithmicMedia"
    deltas = evidence["ingredient_deltas"]
    assert isinstance(deltas, list) and deltas
    assert "an ingredient's manifest" in str(evidence["why"])


# --- offline guarantees ----------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str]
    body: bytes = b""

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200 if self.body else 404)
        self.send_header("Content-Type", "application/c2pa")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Handler", (_Recorder,), {"hits": [], "body": b""})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_remote_manifest_is_never_fetched(local_server: tuple[str, type[_Recorder]]) -> None:
    base, handler = local_server
    url = f"{base}/manifest.c2pa"
    asset, store = fx.sign_remote(
        fx.noise_bytes(17), "JPEG", fx.created_manifest(fx.TRAINED), remote_url=url
    )
    handler.body = store
    verdict = _detect(asset)
    assert verdict.label == NOT_FOUND and not verdict.positive
    assert verdict.evidence["remote_manifest_url"] == url
    assert handler.hits == []
    # Control: c2pa's own defaults would have fetched it, so the fixture really is live.
    with c2pa.Reader("image/jpeg", io.BytesIO(asset), context=c2pa.Context()) as reader:
        assert json.loads(reader.json())["active_manifest"]
    assert handler.hits == ["/manifest.c2pa"]


def test_ocsp_is_never_fetched(local_server: tuple[str, type[_Recorder]]) -> None:
    base, handler = local_server
    pki = fx.make_pki(ocsp_url=f"{base}/ocsp")
    asset = fx.sign(fx.noise_bytes(18), "JPEG", fx.created_manifest(fx.TRAINED), pki)
    verdict = _detect(asset)
    assert verdict.positive and verdict.evidence["validation_state"] == "Valid"
    assert "signingCredential.ocsp.skipped" in _codes(verdict, "informational")
    assert handler.hits == []
    # Control: with OCSP fetching switched on, c2pa does call the responder in the cert.
    context = c2pa.Context.from_dict({"version": 1, "verify": {"ocsp_fetch": True}})
    with c2pa.Reader("image/jpeg", io.BytesIO(asset), context=context) as reader:
        reader.json()
    assert len(handler.hits) == 1


def test_a_loaded_detector_pickles_and_reloads(tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(fx.default_pki().root_pem)
    detector = C2paDetector({"trust_anchors": str(anchors)})
    detector.load()
    copy = pickle.loads(pickle.dumps(detector))
    (verdict,) = copy.detect_batch([sample_from_bytes(_generated())])
    assert verdict.evidence["validation_state"] == "Trusted"
    assert copy.model_checksum == detector.model_checksum


# --- robustness ------------------------------------------------------------------------


@functools.cache
def _fuzz_base(fmt: str) -> bytes:
    return _generated(fmt, seed=19)


@functools.lru_cache(maxsize=1)
def _fuzz_detector() -> C2paDetector:
    detector = C2paDetector()
    detector.load()
    return detector


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(["JPEG", "PNG"]),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
    cut=st.one_of(st.none(), st.floats(0.0, 1.0)),
)
def test_mutated_signed_assets_never_raise(
    fmt: str, flips: list[tuple[float, int]], cut: float | None
) -> None:
    data = bytearray(_fuzz_base(fmt))
    for where, value in flips:
        data[min(int(where * len(data)), len(data) - 1)] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    sample = sample_from_bytes(bytes(data), fx.MIME[fmt])
    verdict = _fuzz_detector().detect_one(sample)
    assert isinstance(verdict, Verdict)
    assert verdict.label in {"c2pa", NOT_FOUND, ERROR_LABEL}
    assert (verdict.error is not None) == (verdict.label == ERROR_LABEL)
    json.dumps(verdict.evidence, allow_nan=False)
