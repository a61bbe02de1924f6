"""Robustness of a TrustMark-format decoder: a stand-in TRAINED HERE, not Adobe's weights.

Trains (once; cached under ``--cache``) the TrustMark-C stand-in of
:mod:`detectors.testing.trustmark_standin` on the training photos, saves its decoder as
safetensors into a scratch model store under the ``trustmark-C`` manifest Adobe's
``decoder_C.ckpt`` would get, registers a 61-bit payload (BCH_5 packet) and measures, on the
held-out photos (512 x 512, plus their four 300 x 300 corner crops) under the watermark
table's transforms: bit accuracy of the 100 packet bits, the share detected at
``fpr_target`` 1e-6 with the hard and the soft test (the real ``WatermarkDetector``, one
registered mark, so one test), BCH decodes to the payload, the PSNR of the embedding and the
null set (the clean carriers as PNG and JPEG q90).

    nice -n 10 .venv/bin/python -m bench.trustmark_standin [--steps 850 --fast-steps 600]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from detectors.evaluation.metrics import image_quality
from detectors.testing.samples import sample_from_bytes
from detectors.testing.trustmark_standin import (
    TRAINING_PHOTOS,
    StandIn,
    TrainingPlan,
    cached_standin,
    held_out_carriers,
)
from detectors.testing.watermark_fixtures import encode, natural_photos
from detectors.watermark import WatermarkDetector
from detectors.watermark.ecc import TrustMarkCodec
from detectors.watermark.files import sha256_file
from detectors.watermark.trustmark_arch import trustmark_manifest

PAYLOAD61 = "0001100010011100100110111110110011101010010101110010101100011"
FPR_TARGET = 1e-6
Transform = Callable[[np.ndarray], bytes]


def _jpeg(quality: int, subsampling: int) -> Transform:
    return lambda rgb: encode(rgb, "JPEG", quality=quality, subsampling=subsampling)


def _half(rgb: np.ndarray) -> bytes:
    height, width = rgb.shape[:2]
    small = Image.fromarray(rgb).resize((width // 2, height // 2), Image.Resampling.LANCZOS)
    return encode(np.asarray(small))


def _crop10(rgb: np.ndarray) -> bytes:
    height, width = rgb.shape[:2]
    dy, dx = round(height * 0.05), round(width * 0.05)
    return encode(rgb[dy : height - dy, dx : width - dx])


def _noise(rgb: np.ndarray) -> bytes:
    noise = np.random.default_rng(0).normal(0, 5, rgb.shape)
    return encode(np.clip(np.rint(rgb + noise), 0, 255).astype(np.uint8))


TRANSFORMS: dict[str, Transform] = {
    "png": encode,
    **{f"jpeg 4:4:4 q{q}": _jpeg(q, 0) for q in (95, 90, 75, 50)},
    **{f"jpeg 4:2:0 q{q}": _jpeg(q, 2) for q in (95, 90, 75, 50)},
    "resize 0.5x": _half,
    "crop 10%": _crop10,
    "noise sigma=5": _noise,
}


def detector_for(standin: StandIn, home: Path) -> WatermarkDetector:
    """The real watermark detector with the stand-in's decoder as a pinned safetensors file."""
    path = home / "standin-C.safetensors"
    standin.save_decoder(path)
    entry = trustmark_manifest(
        "trustmark-c-standin", "C", sha256_file(path), fmt="safetensors", path=str(path)
    )
    payload = {"name": "acme-tm", "bits": PAYLOAD61, "method": "trustmark-c-standin"}
    return WatermarkDetector(
        {"builtin": False, "decoders": [entry], "payloads": [payload], "fpr_target": FPR_TARGET}
    )


def _rows(detector: WatermarkDetector, files: list[bytes]) -> list[dict[str, object]]:
    verdicts = detector.detect_batch([sample_from_bytes(data) for data in files])
    rows = []
    for verdict in verdicts:
        best = verdict.evidence.get("best")
        if not isinstance(best, dict):
            raise RuntimeError(f"no decode: {verdict.evidence}")
        rows.append(best)
    return rows


def _cell(rows: list[dict[str, object]]) -> str:
    accuracy = np.mean([float(str(r["bit_accuracy"])) for r in rows])
    hard = np.mean([float(str(r["p_value_hard"])) <= FPR_TARGET for r in rows])
    soft = np.mean([float(str(r["p_value_soft"])) <= FPR_TARGET for r in rows])
    ecc = [r.get("ecc") for r in rows]
    decoded = np.mean([isinstance(e, dict) and bool(e.get("payload_match")) for e in ecc])
    return f"{accuracy:.3f} / {hard:.0%} -> {soft:.0%} / {decoded:.0%}"


def main(argv: list[str] | None = None) -> int:
    """Train or load the stand-in, then print the robustness table and the null set."""
    parser = argparse.ArgumentParser(description=__doc__)
    defaults = TrainingPlan()
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--fast-steps", type=int, default=defaults.fast_steps)
    parser.add_argument("--psnr", type=float, default=defaults.psnr_end)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/provreg-trustmark-standin"))
    args = parser.parse_args(argv)
    plan = TrainingPlan(
        steps=args.steps, fast_steps=args.fast_steps, psnr_end=args.psnr, seed=args.seed
    )
    training = [(n, a) for n, a in natural_photos() if n in TRAINING_PHOTOS]
    started = time.perf_counter()
    standin = cached_standin(training, plan, args.cache, log_every=50)
    trained_s = time.perf_counter() - started
    final = np.mean(standin.accuracy[-50:])
    print(f"stand-in: {plan}; trained or loaded in {trained_s:.0f} s")
    print(f"training bit accuracy, last 50 steps (distorted batches): {final:.3f}")
    packet = TrustMarkCodec().encode(tuple(int(c) for c in PAYLOAD61))
    carriers = held_out_carriers()
    marked = [standin.embed(rgb, packet) for _, rgb in carriers]
    quality = [image_quality(rgb, m)["psnr"] for (_, rgb), m in zip(carriers, marked, strict=True)]
    psnrs = [value for value in quality if value is not None]
    print(
        f"held-out carriers: {len(carriers)}; embedding PSNR mean {np.mean(psnrs):.1f} dB "
        f"(min {min(psnrs):.1f})"
    )
    with tempfile.TemporaryDirectory() as home:
        detector = detector_for(standin, Path(home))
        detector.load()
        print("\n| transform | bit accuracy / detected hard -> soft / BCH decodes to payload |")
        print("|---|---|")
        for label, transform in TRANSFORMS.items():
            rows = _rows(detector, [transform(m) for m in marked])
            print(f"| {label} | {_cell(rows)} |", flush=True)
        clean = [encode(rgb) for _, rgb in carriers] + [_jpeg(90, 0)(rgb) for _, rgb in carriers]
        rows = _rows(detector, clean)
        for statistic in ("hard", "soft"):
            ps = [float(str(r[f"p_value_{statistic}"])) for r in rows]
            positives = sum(p <= FPR_TARGET for p in ps)
            print(
                f"null set ({len(rows)} clean: carriers as PNG and JPEG q90), {statistic}: "
                f"{positives} positives; smallest p {min(ps):.3g}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
