"""Measure open-set attribution on the generator zoo: closed-set accuracy, AUROC, OSCR.

    .venv/bin/python -m bench.attribution_eval [--size 64] [--enrol 48] [--test 24] [--far 0.05]

Builds the zoo (detectors/testing/attribution_zoo.py: 4 enrolled generators over 2
architectures x 2 seeds; unseen: 2 held-out architectures and a new seed of each enrolled
one), enrols the 4 with the residual method, and scores held-out images of every generator.
Prints one JSON line: overall figures, the same split by unseen architecture / unseen seed,
and enrolment time per 1,000 images.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

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
    result = {"far": args.far, "size": args.size, "enrol_per_generator": args.enrol,
              "test_per_generator": args.test, "zoo_build_s": round(built, 1),
              "enrol_s_per_1000_images": round(
                  enrol_s / max(1, sum(map(len, zoo.enrol.values()))) * 1000, 2)}
    result["all_unseen"] = evaluate(
        gallery, known, {n: zoo.test[n] for n in zoo.unseen}).to_json()
    for split, members in (("unseen_architectures", UNSEEN_ARCHS),
                           ("unseen_seeds", UNSEEN_SEEDS)):
        names = [generator_name(k, s) for k, s in members]
        result[split] = evaluate(gallery, known, {n: zoo.test[n] for n in names}).to_json()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
