"""TrustMark: the decoder architecture loaded from pinned state dicts, and TrustMark packets
(BCH schemas) through the detector.

No TrustMark weights are here (Adobe's come only from its CDN). The architecture tests use
seeded random weights (they check loading, preprocessing and refusal, not accuracy), and the
packet round trip here uses a toy spread-spectrum decoder, NOT TrustMark's network. A decoder
of TrustMark-C's architecture trained in the test is in ``test_trustmark_standin.py``."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from detectors.testing.conformance import sample_from_bytes
from detectors.testing.watermark_fixtures import encode, photo
from detectors.testing.watermark_learned_fixtures import (
    spread_embed,
    spread_manifest,
    write_spread_decoder,
)
from detectors.watermark import WatermarkDetector
from detectors.watermark.ecc import TrustMarkCodec
from detectors.watermark.files import DecoderFileError, DecoderHashError, sha256_file
from detectors.watermark.learned import DecoderManifest, LearnedDecoder, fit_image
from detectors.watermark.resnet import resnet
from detectors.watermark.trustmark_arch import VARIANTS, build_decoder, trustmark_manifest
from registry.models.watermark_keys import DecoderRegistry, watermark_options

PAYLOAD61 = "0001100010011100100110111110110011101010010101110010101100011"
OTHER61 = "1110011101100011011001000001001100010101101010001101010011100"


def test_resnets_have_torchvisions_parameter_counts() -> None:
    # torchvision's published sizes: resnet18 11,689,512, resnet50 25,557,032 (1000 classes).
    assert sum(p.numel() for p in resnet(18, 1000).parameters()) == 11_689_512
    assert sum(p.numel() for p in resnet(50, 1000).parameters()) == 25_557_032
    for variant in VARIANTS:
        decoder = build_decoder(variant)
        assert decoder.decoder.fc.out_features == 100
        assert next(iter(decoder.state_dict())) == "decoder.conv1.weight"


def _checkpoint(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    """A Lightning-style checkpoint of a seeded random TrustMark-C decoder (as the package's
    ``decoder_C.ckpt`` is laid out: the whole model's state dict under ``state_dict``)."""
    torch.manual_seed(0)
    module = build_decoder("C").eval()
    state = {f"decoder.{k}": v for k, v in module.state_dict().items()}
    state["encoder.secret2image.dense.weight"] = torch.zeros(2, 2)  # other parts: ignored
    path = tmp_path / "decoder_C.ckpt"
    torch.save({"state_dict": state, "global_step": 1, "epoch": 0}, path)
    return path, module


def test_trustmark_decoder_loads_a_pinned_checkpoint(tmp_path: Path) -> None:
    path, module = _checkpoint(tmp_path)
    manifest = DecoderManifest.from_mapping(
        trustmark_manifest("tm-c", "C", sha256_file(path), path=str(path))
    )
    assert manifest.input_size == (245, 245) and manifest.architecture == "trustmark-C"
    decoder = LearnedDecoder(manifest)
    tile = fit_image(Image.fromarray(photo("chelsea", (300, 400))), manifest)
    assert tile is not None and tile.shape == (245, 245, 3)
    ours = decoder.scores(tile[None])[0]
    # The package's own preprocessing: ToTensor() * 2 - 1, then the network (which resizes
    # 245 -> 224 inside).
    expected = module(torch.from_numpy(tile.copy()).float().permute(2, 0, 1)[None] / 127.5 - 1)
    assert np.allclose(ours, expected.detach().numpy()[0], atol=1e-4)


def test_bad_trustmark_files_are_clear_errors_at_load(tmp_path: Path) -> None:
    path, _ = _checkpoint(tmp_path)
    entry = trustmark_manifest("tm-c", "C", sha256_file(path), path=str(path))
    # Wrong hash.
    with pytest.raises(DecoderHashError, match="refusing to load"):
        LearnedDecoder(DecoderManifest.from_mapping({**entry, "sha256": "1" * 64}))
    # The right architecture name but another variant's weights: named missing keys.
    with pytest.raises(DecoderFileError, match="does not fit trustmark-Q: missing"):
        LearnedDecoder(DecoderManifest.from_mapping({**entry, "architecture": "trustmark-Q"}))
    # A pickle that would run code: torch.load(weights_only=True) refuses it.
    hostile = tmp_path / "hostile.ckpt"
    hostile.write_bytes(pickle.dumps(print))
    with pytest.raises(DecoderFileError, match="would not load"):
        LearnedDecoder(
            DecoderManifest.from_mapping(
                {**entry, "sha256": sha256_file(hostile), "path": str(hostile)}
            )
        )


def test_trustmark_decoder_is_a_model_store_entry(tmp_path: Path) -> None:
    path, _ = _checkpoint(tmp_path)
    home = tmp_path / "home"
    manifest = {k: v for k, v in trustmark_manifest("tm-c", "C", "0" * 64).items() if k != "sha256"}
    DecoderRegistry(home).add(manifest, path)
    (resolved,) = DecoderRegistry(home).manifests()
    assert resolved["architecture"] == "trustmark-C" and resolved["ecc"] == "trustmark"
    assert Path(resolved["path"]).name == sha256_file(path)
    options = watermark_options(home, environ={"PROVREG_WATERMARK_KEY": "44" * 32})
    detector = WatermarkDetector(
        {
            **options,
            "builtin": False,
            "payloads": [{"name": "acme-tm", "bits": PAYLOAD61, "method": "tm-c"}],
        }
    )
    detector.load()
    (verdict,) = detector.detect_batch([sample_from_bytes(encode(photo("coffee")))])
    row = verdict.evidence["best"]
    # Random weights read noise: no detection, but the schema and correction are reported.
    assert not verdict.positive and isinstance(row, dict) and isinstance(row["ecc"], dict)
    assert set(row["ecc"]) >= {"schema", "decoded", "corrected_bits", "payload_match"}


def _toy_detector(tmp_path: Path, payload: str) -> WatermarkDetector:
    """A 100-bit toy spread-spectrum decoder (NOT TrustMark's network) with TrustMark's ECC."""
    path = write_spread_decoder(tmp_path / "spread100.pt", count=100)
    entry = {
        **spread_manifest(sha256_file(path)),
        "name": "toy-tm",
        "bits": 100,
        "path": str(path),
        "ecc": "trustmark",
    }
    return WatermarkDetector(
        {
            "builtin": False,
            "decoders": [entry],
            "payloads": [{"name": "acme-tm", "bits": payload, "method": "toy-tm"}],
        }
    )


def test_trustmark_packet_round_trip_toy_decoder_not_trustmarks_network(tmp_path: Path) -> None:
    packet = TrustMarkCodec().encode(tuple(int(c) for c in PAYLOAD61))
    flipped = list(packet)
    for i in (2, 40, 70):  # three bit errors: within BCH_5's five
        flipped[i] ^= 1
    samples = [
        sample_from_bytes(encode(spread_embed(photo("chelsea"), tuple(flipped), strength=12.0)))
    ]
    (verdict,) = _toy_detector(tmp_path, PAYLOAD61).detect_batch(samples)
    row = verdict.evidence["best"]
    assert verdict.positive and verdict.label == "acme-tm", row
    assert isinstance(row, dict) and row["n"] == 100
    assert row["ecc"] == {
        "schema": "BCH_5",
        "decoded": True,
        "corrected_bits": 3,
        "payload_match": True,
        "data_bits": PAYLOAD61,
    }
    (wrong,) = _toy_detector(tmp_path, OTHER61).detect_batch(samples)
    wrong_row = wrong.evidence["best"]
    assert not wrong.positive and isinstance(wrong_row, dict)
    assert isinstance(wrong_row["ecc"], dict) and wrong_row["ecc"]["payload_match"] is False
