"""Measure the C2PA detector on self-signed fixtures and on the named null set; print a table.

Run from the repository root::

    nice -n 10 .venv/bin/python -m bench.c2pa_eval [--seeds 5] [--size 512]

Groups (each in JPEG and PNG, ``--seeds`` images per format and kind):

- generated (noise images, ``--size`` pixels square): ``c2pa.created`` with
  trainedAlgorithmicMedia / compositeWithTrainedAlgorithmicMedia
  / algorithmicMedia, read with no trust anchors (Valid) and with the signing root (Trusted);
- derived-from-generated: an edit whose parent ingredient is a generated image;
- tampered-generated: generated, then pixels changed after signing (Invalid);
- stripped-generated: generated, then decoded and re-encoded (the manifest is lost);
- capture / edit-of-unsigned / edit-of-capture: manifests that declare no generated source;
- null set: the scikit-image and scikit-learn photographs
  (``NULL_SET_NAMES`` in detectors/testing/c2pa_fixtures.py).

The detection rate is positives / n; for the generated groups it is the TPR, for the others
the FPR. Timing is the mean wall time of ``detect_batch`` per asset.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from detectors.base import Verdict
from detectors.c2pa_detector import C2paDetector
from detectors.testing import c2pa_fixtures as fx
from detectors.testing.samples import sample_from_bytes

FORMATS = ("JPEG", "PNG")
GENERATIVE = (fx.TRAINED, fx.COMPOSITE_TRAINED, fx.ALGORITHMIC)


def groups(seeds: int, size: int) -> list[tuple[str, str, list[bytes]]]:
    """``(group name, expected, assets)``; expected is ``positive`` or ``negative``."""
    def image(fmt: str, seed: int) -> bytes:
        return fx.noise_bytes(seed, fmt, size)

    def _generated(fmt: str, seed: int) -> bytes:
        source = GENERATIVE[seed % len(GENERATIVE)]
        return fx.sign(image(fmt, seed), fmt, fx.created_manifest(source))

    def _captured(fmt: str, seed: int) -> bytes:
        return fx.sign(image(fmt, seed), fmt, fx.created_manifest(fx.DIGITAL_CAPTURE))

    def each(make: Callable[[str, int], bytes]) -> list[bytes]:
        return [make(fmt, 1000 * i + 7) for fmt in FORMATS for i in range(seeds)]

    other = {"JPEG": "PNG", "PNG": "JPEG"}
    return [
        ("generated", "positive", each(_generated)),
        ("derived-from-generated", "positive",
         each(lambda f, s: fx.sign_derivative(_generated(f, s), f, other[f]))),
        ("tampered-generated", "positive", each(lambda f, s: fx.tamper(_generated(f, s), f))),
        ("stripped-generated", "positive", each(lambda f, s: fx.strip(_generated(f, s), f))),
        ("capture", "negative", each(_captured)),
        ("edit-of-unsigned", "negative",
         each(lambda f, s: fx.sign_derivative(image(f, s), f, other[f]))),
        ("edit-of-capture", "negative",
         each(lambda f, s: fx.sign_derivative(_captured(f, s), f, other[f]))),
        ("null set (skimage+sklearn photos)", "negative", [data for _, data in fx.null_files()]),
    ]


def _run(detector: C2paDetector, assets: list[bytes]) -> tuple[list[Verdict], float]:
    samples = [sample_from_bytes(data) for data in assets]
    started = time.perf_counter()
    verdicts = detector.detect_batch(samples)
    return verdicts, (time.perf_counter() - started) * 1000.0 / max(len(samples), 1)


def main() -> None:
    """Build the fixtures, run the detector with and without anchors, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seeds", type=int, default=5, help="images per format and group")
    parser.add_argument("--size", type=int, default=512, help="side of the fixture images")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        anchors = Path(tmp) / "anchors.pem"
        anchors.write_bytes(fx.default_pki().root_pem)
        detectors = {"none": C2paDetector(), "test root": C2paDetector({"trust_anchors": anchors})}
        for detector in detectors.values():
            detector.load()
        print(f"machine: {platform.machine()}, {platform.system()}, python "
              f"{platform.python_version()}")
        print("| group | expected | anchors | n | positive | rate | labels | states | ms/asset |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, expected, assets in groups(args.seeds, args.size):
            for anchor_name, detector in detectors.items():
                verdicts, ms = _run(detector, assets)
                hits = sum(v.positive for v in verdicts)
                labels = Counter(v.label for v in verdicts)
                states = Counter(str(v.evidence.get("validation_state", "-")) for v in verdicts)
                rate = "TPR" if expected == "positive" else "FPR"
                print(f"| {name} | {expected} | {anchor_name} | {len(verdicts)} | {hits} | "
                      f"{rate} {hits / len(verdicts):.3f} | {_fmt(labels)} | {_fmt(states)} | "
                      f"{ms:.1f} |")


def _fmt(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {count}" for key, count in sorted(counter.items()))


if __name__ == "__main__":
    main()
