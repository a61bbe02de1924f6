"""Measure open-set attribution on the generator zoo: closed-set accuracy, AUROC, OSCR.

    .venv/bin/python -m bench.attribution_eval [--size 64] [--enrol 48] [--test 24] [--far 0.05]

Builds the zoo (detectors/testing/attribution_zoo.py: 4 enrolled generators over 2
architectures x 2 seeds; unseen: 2 held-out architectures and a new seed of each enrolled
one), enrols the 4 with the residual method, and scores held-out images of every generator.
Prints one JSON line: overall figures, the same split by unseen architecture / unseen seed,
enrolment time per 1,000 images, and (``calibrated``) the figures after a gallery-wide
threshold is set at ``--far`` on half of the unseen images, measured on the other half.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

import torch

from detectors.attribution.evaluate import evaluate
from detectors.attribution.fingerprint import enrol
from detectors.attribution.gallery import Gallery
from detectors.testing.attribution_zoo import UNSEEN_ARCHS, UNSEEN_SEEDS, build_zoo, generator_name


def main(argv: Sequence[str] | None = None) -> None:
    """Run the evaluation and print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--enrol", type=int, default=48)
    parser.add_argument("--test", type=int, default=24)
    parser.add_argument("--far", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    zoo = build_zoo(size=args.size, enrol=args.enrol, test=args.test)
    built = time.perf_counter() - started
    started = time.perf_counter()
    fingerprints = [enrol(name, images, far=args.far) for name, images in zoo.enrol.items()]
    enrol_s = time.perf_counter() - started
    gallery = Gallery(fingerprints)
    known = {name: zoo.test[name] for name in zoo.enrol}
    result = {
        "far": args.far,
        "size": args.size,
        "enrol_per_generator": args.enrol,
        "test_per_generator": args.test,
        "zoo_build_s": round(built, 1),
        "enrol_s_per_1000_images": round(
            enrol_s / max(1, sum(map(len, zoo.enrol.values()))) * 1000, 2
        ),
    }
    result["all_unseen"] = evaluate(gallery, known, {n: zoo.test[n] for n in zoo.unseen}).to_json()
    for split, members in (("unseen_architectures", UNSEEN_ARCHS), ("unseen_seeds", UNSEEN_SEEDS)):
        names = [generator_name(k, s) for k, s in members]
        result[split] = evaluate(gallery, known, {n: zoo.test[n] for n in names}).to_json()
    result["calibrated"] = _calibrated(gallery, known, zoo, args.far)
    print(json.dumps(result))


def _calibrated(gallery: Gallery, known: dict[str, Any], zoo: Any, far: float) -> dict[str, Any]:
    """What ``provreg generator calibrate`` gives: threshold set at ``far`` on the first half
    of each unseen generator's test images, figures on the second half."""
    from detectors.attribution.evaluate import open_set_scores
    from detectors.learned.calibration import calibrate

    half = {n: len(zoo.test[n]) // 2 for n in zoo.unseen}
    zero = Gallery(gallery.fingerprints, [], {"threshold": 0.0})
    tops = [m for n in zoo.unseen for _, _, m in open_set_scores(zero, zoo.test[n][: half[n]])]
    threshold = calibrate(tops, far, "unseen, first half").threshold
    held = {n: zoo.test[n][half[n] :] for n in zoo.unseen}
    figures = evaluate(Gallery(gallery.fingerprints, [], {"threshold": threshold}), known, held)
    return {"threshold": round(threshold, 4), **figures.to_json()}


if __name__ == "__main__":
    main()
