"""A TrustMark-C decoder TRAINED IN THIS TEST (a stand-in: TrustMark's architecture, NOT
Adobe's weights), through the whole path a vendor's ``decoder_C.ckpt`` would take: weights
file -> model store (SHA-256 pinned) -> ``trustmark-C`` manifest -> BCH_5 packet -> verdict.

The training is brief (a few minutes of CPU), so the decoder runs at 64 x 64 (the manifest
says so; the architecture is unchanged) and the mark is stronger (PSNR 28 dB) than the
benchmark's stand-in (`bench/trustmark_standin.py`: TrustMark's exact 245 -> 224
preprocessing, PSNR 38 dB). The images it is judged on are photos it never saw.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.testing.samples import sample_from_bytes
from detectors.testing.trustmark_standin import (
    TRAINING_PHOTOS,
    StandIn,
    TrainingPlan,
    held_out_carriers,
    train_standin,
)
from detectors.testing.watermark_fixtures import encode, natural_photos
from detectors.watermark import WatermarkDetector
from detectors.watermark.ecc import TrustMarkCodec
from detectors.watermark.files import sha256_file
from detectors.watermark.trustmark_arch import trustmark_manifest
from registry.models.watermark_keys import DecoderRegistry, WatermarkKeyring, watermark_options

pytestmark = pytest.mark.slow

PAYLOAD61 = "0001100010011100100110111110110011101010010101110010101100011"
OTHER61 = "1110011101100011011001000001001100010101101010001101010011100"
BRIEF = TrainingPlan(
    steps=300,
    fast_steps=300,
    batch=32,
    fast_size=64,
    warmup_steps=100,
    psnr_start=24.0,
    psnr_end=28.0,
)


@pytest.fixture(scope="module")
def standin() -> StandIn:
    photos = [array for name, array in natural_photos() if name in TRAINING_PHOTOS]
    return train_standin(photos, BRIEF)


def _detector(standin: StandIn, home: Path, payload: str) -> WatermarkDetector:
    """The watermark detector as ``provreg`` builds it from ``home``: the decoder in the model
    store, the payload registered as a secret mark (``provreg watermark add``)."""
    weights = home / "standin-C.safetensors"
    standin.save_decoder(weights)
    manifest = trustmark_manifest("tm-standin", "C", "0" * 64, fmt="safetensors")
    manifest = {k: v for k, v in manifest.items() if k != "sha256"}
    # Trained for a 64 x 64 input: the network is TrustMark-C's, only the resize differs.
    manifest["input_size"] = [BRIEF.fast_size, BRIEF.fast_size]
    decoder = DecoderRegistry(home).add(manifest, weights)
    environ = {"PROVREG_WATERMARK_KEY": "55" * 32}
    WatermarkKeyring(home, environ).add(
        "acme-tm", "tm-standin", "0b" + payload, {"tm-standin": decoder.payload_bits}
    )
    detector = WatermarkDetector({**watermark_options(home, environ), "builtin": False})
    detector.load()
    return detector


def test_trained_standin_reads_its_mark_on_unseen_photos(standin: StandIn, tmp_path: Path) -> None:
    packet = TrustMarkCodec().encode(tuple(int(c) for c in PAYLOAD61))
    carriers = [rgb for _, rgb in held_out_carriers(corners=False)]
    assert len(carriers) >= 8
    marked = [encode(standin.embed(rgb, packet)) for rgb in carriers]
    clean = [encode(rgb) for rgb in carriers]
    detector = _detector(standin, tmp_path, PAYLOAD61)
    verdicts = detector.detect_batch([sample_from_bytes(data) for data in marked + clean])
    hits, nulls = verdicts[: len(marked)], verdicts[len(marked) :]
    accuracy = [float(v.evidence["best"]["bit_accuracy"]) for v in hits]  # type: ignore[index,arg-type]
    assert np.mean(accuracy) > 0.7, accuracy
    assert sum(v.positive and v.label == "acme-tm" for v in hits) >= len(hits) - 1, accuracy
    assert not any(v.positive for v in nulls)
    # Every decode went through TrustMark's packet code (BCH correction is exercised to the
    # end by bench/trustmark_standin.py: at ~80% bit accuracy a packet is beyond BCH_5's 5).
    for verdict in hits:
        ecc = verdict.evidence["best"]["ecc"]  # type: ignore[index,call-overload]
        assert set(ecc) >= {"schema", "decoded", "corrected_bits", "payload_match"}


def test_trained_standin_rejects_another_key_and_never_stores_the_key(
    standin: StandIn, tmp_path: Path
) -> None:
    packet = TrustMarkCodec().encode(tuple(int(c) for c in PAYLOAD61))
    carriers = [rgb for _, rgb in held_out_carriers(corners=False)][:4]
    marked = [encode(standin.embed(rgb, packet)) for rgb in carriers]
    detector = _detector(standin, tmp_path, OTHER61)
    verdicts = detector.detect_batch([sample_from_bytes(data) for data in marked])
    assert not any(v.positive for v in verdicts)
    for verdict in verdicts:
        text = repr(verdict.evidence)
        assert OTHER61 not in text and PAYLOAD61 not in text
    # The decoder in the store is the trained file, pinned by its hash.
    (entry,) = DecoderRegistry(tmp_path).manifests()
    assert Path(entry["path"]).name == sha256_file(tmp_path / "standin-C.safetensors")
