"""RivaGAN and manifest-described learned decoders: round trips, batching, pinned files."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from imwatermark import WatermarkDecoder

from detectors.base import NOT_FOUND, Sample
from detectors.testing.conformance import sample_from_bytes
from detectors.testing.watermark_fixtures import encode, photo
from detectors.testing.watermark_learned_fixtures import (
    RIVAGAN_BITS,
    RIVAGAN_KEY,
    rivagan_embed,
    spread_embed,
    spread_manifest,
    write_spread_decoder,
)
from detectors.watermark import WatermarkDetector
from detectors.watermark.files import (
    DecoderFileError,
    DecoderHashError,
    DecoderMissingError,
    sha256_file,
)
from detectors.watermark.learned import (
    RIVAGAN_DECODER_SHA256,
    DecoderManifest,
    LearnedDecoder,
    rivagan_manifest,
)
from registry.models.store import ModelStore

RIVA_OPTIONS = {"payloads": [{"name": "acme-riva", "bits": RIVAGAN_KEY, "method": "rivaGan"}]}
PHOTOS = ("astronaut", "chelsea", "camera")


@cache
def _riva_marked() -> tuple[np.ndarray, ...]:
    # 256 x 256: the library's minimum, and exactly the decoder tile (RivaGAN is slow on CPU).
    return tuple(rivagan_embed(photo(name, (256, 256))) for name in PHOTOS)


def test_shipped_rivagan_file_is_the_pinned_one() -> None:
    manifest = rivagan_manifest()
    assert manifest.path is not None
    assert sha256_file(Path(manifest.path)) == RIVAGAN_DECODER_SHA256


@pytest.mark.slow
def test_rivagan_round_trip_with_library_encoder() -> None:
    detector = WatermarkDetector(RIVA_OPTIONS)
    marked = [sample_from_bytes(encode(rgb)) for rgb in _riva_marked()]
    clean = [sample_from_bytes(encode(photo(name, (256, 256)))) for name in PHOTOS]
    verdicts = detector.detect_batch(marked + clean)
    assert detector.devices == {"rivaGan": "cpu"}  # no GPU on this machine
    for verdict in verdicts[: len(PHOTOS)]:
        assert verdict.positive and verdict.label == "acme-riva", verdict.evidence["best"]
        assert verdict.p_value is not None and verdict.p_value <= detector.fpr_target
    for verdict in verdicts[len(PHOTOS) :]:
        assert not verdict.positive and verdict.label == NOT_FOUND
    # 8 dwt tests for the built-ins + 1 for the RivaGAN payload.
    assert detector.tests_per_image == 9 and verdicts[0].evidence["tests"] == 9


@pytest.mark.slow
def test_our_rivagan_decoder_agrees_with_the_library() -> None:
    decoder = LearnedDecoder(rivagan_manifest())
    library = WatermarkDecoder("bits", 32)
    for rgb in _riva_marked():
        ours = tuple(int(v) for v in decoder.scores(rgb[None])[0] > 0)
        theirs = tuple(
            int(b) for b in library.decode(np.ascontiguousarray(rgb[:, :, ::-1]), "rivaGan")
        )
        assert ours == theirs
        assert sum(a == b for a, b in zip(ours, RIVAGAN_BITS, strict=True)) >= 30


def test_learned_decoders_ask_for_a_gpu_share() -> None:
    assert WatermarkDetector().resources.num_gpus == 0
    assert WatermarkDetector(RIVA_OPTIONS).resources.num_gpus > 0


def test_rivagan_reads_a_centre_crop_of_larger_images() -> None:
    rgb = rivagan_embed(photo("astronaut", (384, 320)))
    (verdict,) = WatermarkDetector(RIVA_OPTIONS).detect_batch([sample_from_bytes(encode(rgb))])
    assert verdict.label == "acme-riva"


def test_learned_decoders_run_once_per_batch() -> None:
    detector = WatermarkDetector(RIVA_OPTIONS)
    samples = [sample_from_bytes(encode(rgb)) for rgb in _riva_marked()]
    samples.append(Sample(sha256="0" * 64, data=b"x", media_type="image/png", image=None))
    verdicts = detector.detect_batch(samples)
    assert detector._decoders["rivaGan"].forward_passes == 1
    assert [v.label for v in verdicts[:3]] == ["acme-riva"] * 3
    assert verdicts[3].error == "not-an-image"


def test_wrong_hash_is_a_clear_error_at_load(tmp_path: Path) -> None:
    manifest = rivagan_manifest()
    assert manifest.path is not None
    copy = tmp_path / "rivagan_decoder.onnx"
    shutil.copyfile(manifest.path, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    entry = {**manifest.as_json(), "name": "riva-copy", "path": str(copy)}
    options = {
        "decoders": [entry],
        "payloads": [{"name": "x", "bits": RIVAGAN_KEY, "method": "riva-copy"}],
    }
    with pytest.raises(DecoderHashError, match="refusing to load"):
        WatermarkDetector(options).load()
    with pytest.raises(DecoderMissingError):
        LearnedDecoder(DecoderManifest.from_mapping({**entry, "path": str(tmp_path / "no")}))
    # Pinned to the corrupt file's own hash: it passes the hash check but will not load.
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(copy.read_bytes()[:5000])
    pinned = {**entry, "sha256": sha256_file(truncated), "path": str(truncated)}
    with pytest.raises(DecoderFileError, match="would not load as onnx"):
        LearnedDecoder(DecoderManifest.from_mapping(pinned))


def test_manifest_decoder_from_the_model_store(tmp_path: Path) -> None:
    """A TorchScript decoder kept in the model store: the registry side resolves the blob's
    path, the detector gets manifest + path and hashes the file again at load."""
    store = ModelStore(tmp_path / "models")
    entry = store.add(
        "acme-spread",
        write_spread_decoder(tmp_path / "spread.pt"),
        kind="watermark-decoder",
        fmt="torchscript",
    )
    digest = entry.sha256
    blob = store.blob_path(digest)
    assert blob.name == digest
    bits = "0x3C96A5E1"
    options = {
        "decoders": [{**spread_manifest(digest), "path": str(blob)}],
        "payloads": [{"name": "acme-spread-key", "bits": bits, "method": "acme-spread"}],
    }
    key = tuple(int(b) for b in format(0x3C96A5E1, "032b"))
    marked = [spread_embed(photo(name), key) for name in PHOTOS]
    samples = [sample_from_bytes(encode(rgb)) for rgb in marked]
    samples += [sample_from_bytes(encode(photo(name))) for name in PHOTOS]
    detector = WatermarkDetector(options)
    verdicts = detector.detect_batch(samples)
    assert [v.label for v in verdicts] == ["acme-spread-key"] * 3 + [NOT_FOUND] * 3
    assert detector._decoders["acme-spread"].forward_passes == 1
    # Tamper with the stored file (blobs are read-only; an attacker is not stopped by that):
    # the next load refuses it.
    blob.chmod(0o644)
    blob.write_bytes(b"not a model")
    with pytest.raises(DecoderHashError, match="refusing to load"):
        WatermarkDetector(options).load()
    # No path handed over (the detector never looks anything up itself): a clear error.
    no_path = {**options, "decoders": [spread_manifest(digest)]}
    with pytest.raises(DecoderFileError, match="no 'path'"):
        WatermarkDetector(no_path).load()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "pickle"}, "format"),
        ({"bits": 8}, "'bits'"),
        ({"input_size": [0, 10]}, "input_size"),
        ({"ecc": "bch"}, "ecc"),
        ({"ecc": {"type": "bch", "t": 5, "data_bits": 61}}, "codeword has 96 bits"),
        ({"architecture": "trustmark-Q"}, "takes no 'architecture'"),
        ({"format": "pytorch", "architecture": "resnet"}, "unknown architecture"),
        ({"std": [1.0, 0.0, 1.0]}, "positive"),
        ({"sha256": "abc"}, "64 hex"),
        ({"weights_url": "http://x"}, "unknown key"),
    ],
)
def test_bad_manifests_are_refused(change: dict[str, object], message: str) -> None:
    entry = {**spread_manifest("0" * 64), **change}
    with pytest.raises(DecoderFileError, match=message):
        DecoderManifest.from_mapping(entry)
