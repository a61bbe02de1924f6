"""Time the watermark detector and its decoders.

For a 512 x 512 and a 1024 x 1024 natural photo: one library ``WatermarkDecoder.decode``
(dwtDct, uint8), the detector's vectorised decode of the same blocks, and a whole
``WatermarkDetector.detect_batch`` call with the default options (4 decodes, all payloads).
Median of ``--repeat`` runs, wall and CPU time.

Then images/s per method at 512 x 512 (``--batch`` images per call; the learned decoders
run one forward pass per call): dwtDct (one order, one array type, soft scores included),
dwtDctSvd (library), RivaGAN (shipped ONNX decoder, 256 x 256 centre crop), a TorchScript
manifest decoder (128 x 128), TrustMark's decoder architecture (variants C = ResNet-18 and
Q = ResNet-50, 245 x 245 resized to 224 inside; seeded random weights, since no TrustMark
weights are here -- speed does not depend on the weights), TrustMark's BCH packet correction
(bchlib, per image), and the whole detector with the built-ins plus one RivaGAN key. The
device column says where the learned decoders ran (``cpu`` unless onnxruntime's CUDA provider /
torch CUDA is present).

    nice -n 10 .venv/bin/python -m bench.watermark_decode_speed [--repeat N] [--batch B]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from imwatermark import WatermarkDecoder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.testing.samples import sample_from_bytes
from detectors.testing.watermark_fixtures import encode, natural_photos, photo
from detectors.testing.watermark_learned_fixtures import (
    RIVAGAN_KEY,
    spread_manifest,
    write_spread_decoder,
)
from detectors.watermark import WatermarkDetector
from detectors.watermark.decode import block_count, decode_blocks
from detectors.watermark.ecc import TrustMarkCodec
from detectors.watermark.files import sha256_file
from detectors.watermark.learned import DecoderManifest, LearnedDecoder, rivagan_manifest
from detectors.watermark.trustmark_arch import build_decoder, trustmark_manifest


def _median_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def _rate(fn: Callable[[], object], images: int, repeat: int) -> str:
    wall, cpu = _median_ms(fn, repeat)
    return f"{images / wall * 1000:.1f} img/s wall, {images / cpu * 1000:.1f} img/s CPU"


def per_method(batch: int, repeat: int) -> None:
    """Images/s per method at 512 x 512."""
    import tempfile

    rgbs = [photo(name) for name, _ in natural_photos()[:batch]]
    tiles = np.stack(rgbs)
    samples = [sample_from_bytes(encode(rgb)) for rgb in rgbs]
    riva = LearnedDecoder(rivagan_manifest())
    riva_tiles = np.ascontiguousarray(tiles[:, 128:384, 128:384])
    with tempfile.TemporaryDirectory() as folder:
        path = write_spread_decoder(Path(folder) / "spread.pt")
        entry = {**spread_manifest(sha256_file(path)), "path": str(path)}
        spread = LearnedDecoder(DecoderManifest.from_mapping(entry))
        trustmark = {}
        for variant in ("C", "Q"):
            import torch

            torch.manual_seed(0)
            weights = Path(folder) / f"trustmark_{variant}.pt"
            torch.save(build_decoder(variant).state_dict(), weights)
            trustmark[variant] = LearnedDecoder(
                DecoderManifest.from_mapping(
                    trustmark_manifest(
                        f"tm-{variant}", variant, sha256_file(weights), path=str(weights)
                    )
                )
            )
    spread_tiles = np.ascontiguousarray(tiles[:, 192:320, 192:320])
    tm_tiles = np.ascontiguousarray(tiles[:, 133:378, 133:378])
    codec = TrustMarkCodec()
    rng = np.random.default_rng(0)
    packets = [
        tuple(
            int(b) ^ int(e)
            for b, e in zip(
                codec.encode(tuple(int(v) for v in rng.integers(0, 2, 61))),
                rng.random(100) < 0.03,
                strict=True,
            )
        )
        for _ in range(batch)
    ]
    detector = WatermarkDetector(
        {"payloads": [{"name": "riva", "bits": RIVAGAN_KEY, "method": "rivaGan"}]}
    )
    detector.load()
    rows = [
        (
            "dwtDct (vectorised, soft)",
            "cpu",
            lambda: [decode_blocks(rgb, "dwtDct", "bgr") for rgb in rgbs],
        ),
        (
            "dwtDctSvd (library)",
            "cpu",
            lambda: [decode_blocks(rgb, "dwtDctSvd", "bgr") for rgb in rgbs],
        ),
        ("RivaGAN (ONNX, 256 crop)", riva.device, lambda: riva.scores(riva_tiles)),
        (
            "TorchScript manifest decoder (128 crop)",
            spread.device,
            lambda: spread.scores(spread_tiles),
        ),
        (
            "TrustMark-C arch (ResNet-18, 245 -> 224), random weights",
            trustmark["C"].device,
            lambda: trustmark["C"].scores(tm_tiles),
        ),
        (
            "TrustMark-Q/B/P arch (ResNet-50, 245 -> 224), random weights",
            trustmark["Q"].device,
            lambda: trustmark["Q"].scores(tm_tiles),
        ),
        (
            "TrustMark BCH packet correction (bchlib)",
            "cpu",
            lambda: [codec.correct(packet) for packet in packets],
        ),
        (
            "detector: built-ins + 1 RivaGAN key",
            detector.devices["rivaGan"],
            lambda: detector.detect_batch(samples),
        ),
    ]
    print(f"\n| method (512 x 512, batch of {batch}) | ran on | images/s |")
    print("|---|---|---|")
    for label, device, fn in rows:
        fn()  # warm up (session initialisation, first-call allocations)
        print(f"| {label} | {device} | {_rate(fn, batch, repeat)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    repeat = args.repeat
    detector = WatermarkDetector()
    detector.load()
    print("| image | library decode | vectorised decode | detector, whole verdict |")
    print("|---|---|---|---|")
    for size in (512, 1024):
        rgb = photo("hubble_deep_field", (size, size))
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        decoder = WatermarkDecoder("bits", block_count(size, size))
        sample = sample_from_bytes(encode(rgb))
        lib = _median_ms(partial(decoder.decode, bgr, "dwtDct"), repeat)
        vec = _median_ms(partial(decode_blocks, rgb, "dwtDct", "bgr"), repeat)
        det = _median_ms(partial(detector.detect_batch, [sample]), repeat)
        cells = [f"{wall:.1f} ms wall / {cpu:.1f} ms CPU" for wall, cpu in (lib, vec, det)]
        print(f"| {size} x {size} | " + " | ".join(cells) + " |")
    per_method(args.batch, max(1, repeat // 2))


if __name__ == "__main__":
    main()
