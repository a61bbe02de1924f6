"""The generator zoo and an enrolled gallery for attribution tests, built once per process.

The zoo (detectors/testing/attribution_zoo.py) is small: 64 px images, 24 enrolment and 12
test images per generator, so it builds in seconds. Unknown test images are split in two:
the first half calibrates the gallery-wide threshold, the second half is what tests judge.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from detectors.attribution.fingerprint import enrol
from detectors.attribution.gallery import Gallery
from detectors.learned.calibration import calibrate
from detectors.testing.attribution_zoo import Zoo, build_zoo, write_zoo

ENROL = 24
TEST = 12


@functools.cache
def workdir() -> Path:
    """Scratch folder removed at exit."""
    path = Path(tempfile.mkdtemp(prefix="provreg-attribution-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def zoo() -> Zoo:
    """The zoo in memory."""
    import torch

    torch.set_num_threads(1)
    return build_zoo(size=64, enrol=ENROL, test=TEST)


@functools.cache
def folders() -> Path:
    """The zoo as PNG folders ``enrol/<generator>``, ``test/<generator>``."""
    out = workdir() / "zoo"
    write_zoo(zoo(), out)
    return out


def unknown_halves() -> tuple[dict[str, list], dict[str, list]]:  # type: ignore[type-arg]
    """(calibration half, judged half) of each unseen generator's test images."""
    z = zoo()
    half = TEST // 2
    return ({n: z.test[n][:half] for n in z.unseen}, {n: z.test[n][half:] for n in z.unseen})


@functools.cache
def gallery(calibrated: bool = True) -> Gallery:
    """The 4 enrolled generators; with ``calibrated``, the threshold set at FAR 10% on the
    calibration half of the unknown images."""
    z = zoo()
    fingerprints = [enrol(name, images) for name, images in z.enrol.items()]
    plain = Gallery(fingerprints)
    if not calibrated:
        return plain
    from detectors.attribution.evaluate import open_set_scores

    zero = Gallery(fingerprints, [], {"threshold": 0.0})
    calib, _ = unknown_halves()
    tops = [m for images in calib.values() for _, _, m in open_set_scores(zero, images)]
    threshold = calibrate(tops, 0.10, "zoo calibration half").threshold
    return Gallery(fingerprints, [], {"threshold": threshold, "far": 0.10})


@functools.cache
def gallery_file(calibrated: bool = True) -> Path:
    """The gallery written as the detector reads it."""
    path = workdir() / f"gallery-{int(calibrated)}.safetensors"
    gallery(calibrated).save(path)
    return path
