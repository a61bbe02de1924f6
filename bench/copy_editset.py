"""Measure the copy matcher on the edit set and the null set used by the tests.

References: the photos and generated images of ``reference_images`` in
``detectors.testing.copy_fixtures``. Queries: every reference under every edit in its ``EDITS``;
null queries: its ``null_images`` (other photos, crops of them, noise).

Reported per edit: how many copies the full matcher finds (the right reference is the best
match), the median PDQ distance, how many needed geometric verification, and the recall of
the default training-free embedder (true reference among the top ``k`` of an index holding
the references plus every null image as distractors). Then false matches on the null set.

Usage::

    nice -n 10 python -m bench.copy_editset
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.copy.embedding import HandcraftedEmbedder
from detectors.copy.matcher import ReferenceSet
from detectors.copy.vector_index import VectorIndex
from detectors.testing.copy_fixtures import EDITS, null_images, reference_images


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=5, help="embedding top-k for recall")
    args = parser.parse_args(argv)

    refs = reference_images()
    nulls = null_images()
    references = ReferenceSet()
    for ref_id, (name, image) in enumerate(refs.items()):
        references.add(ref_id, image, bank=name)

    embedder = HandcraftedEmbedder()
    vectors = VectorIndex(embedder.dim)
    vectors.add(np.arange(len(refs)), embedder.embed(list(refs.values())))
    vectors.add(np.arange(len(nulls)) + 1000, embedder.embed(list(nulls.values())))

    print(f"{len(refs)} references, {len(nulls)} null images, {len(EDITS)} edits")
    print("| edit | found | median PDQ distance | decided by verification "
          f"| embedding recall@{args.k} | ms/query |")
    print("|---|---:|---:|---:|---:|---:|")
    total_found = total = 0
    for edit, apply in EDITS.items():
        found = verified = emb_hit = 0
        distances: list[int] = []
        started = time.perf_counter()
        for ref_id, image in enumerate(refs.values()):
            query = apply(image)
            matched = [m for m in references.match(query) if m.matched]
            if matched and matched[0].reference.ref_id == ref_id:
                found += 1
                distances.append(matched[0].distance)
                verified += matched[0].verification is not None
            ids, _ = vectors.similarities(embedder.embed([query]), args.k)
            emb_hit += ref_id in ids[0].tolist()
        ms = (time.perf_counter() - started) * 1000 / len(refs)
        median = statistics.median(distances) if distances else "-"
        print(f"| {edit} | {found}/{len(refs)} | {median} | {verified} | "
              f"{emb_hit}/{len(refs)} | {ms:.0f} |")
        total_found += found
        total += len(refs)
    print(f"\nedit set: {total_found}/{total} found")

    false = []
    best = []
    for name, image in nulls.items():
        report = references.query(image)
        if any(m.matched for m in report.matches):
            false.append(name)
        if report.best_distance is not None:
            best.append(report.best_distance)
    print(f"null set: {len(false)}/{len(nulls)} false matches {false}; "
          f"smallest PDQ distance to any reference {min(best)}")


if __name__ == "__main__":
    main()
