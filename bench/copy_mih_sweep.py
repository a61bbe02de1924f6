"""Sweep multi-index-hashing layouts for PDQ range search at radius 31.

For each ``CHUNKSxBITS[xPERMS]`` layout of :class:`detectors.copy.mih.MultiIndexHash`
(``PERMS`` bit permutations, each cut into ``CHUNKS`` keys of ``BITS`` bits): build time,
batched lookups/s (one thread), recall against exact brute force (FAISS ``IndexBinaryFlat``)
overall and for the hardest queries (28-31 bits from their planted neighbour), candidates
checked per query (measured, and projected to 10M: the random ones scale with the size,
the repeated hits of the planted neighbour do not), and the memory the layout would need at
10M hashes (int32 row ids per table, int32 offsets ``2**BITS + 1`` per table, 32-byte
codes). Lookup cost grows
with tables x 2 random reads plus candidates x 1; recall with tables; memory with tables
and with ``2**BITS``.

Data as bench/copy_search.py: uniformly random hashes, queries within a uniform 0..31 bits
of a random stored hash.

Usage::

    nice -n 10 python -m bench.copy_mih_sweep --size 1000000 \
        --layouts 17x15 14x18x2 12x21x4
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

from bench.copy_search import RADIUS, make_data, recall, truth
from detectors.copy.mih import Layout, MultiIndexHash


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=4_000)
    parser.add_argument(
        "--layouts", nargs="+", default=["17x15", "16x16", "14x18x2", "12x21x3", "12x21x4"]
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    codes, queries, _ = make_data(args.size, args.queries, args.seed)
    expected = truth(codes, queries)
    targets_dist = np.bitwise_count(np.bitwise_xor(queries, codes[_nearest(expected)])).sum(axis=1)
    hard = targets_dist >= 28
    print(
        "| layout | tables | build s | lookups/s | recall@31 | recall 28-31 bits "
        "| candidates/query | same at 10M | memory at 10M GB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for spec in args.layouts:
        layout = Layout.parse(spec)
        index = MultiIndexHash(256, layout)
        started = time.perf_counter()
        index.build(codes)
        build = time.perf_counter() - started
        started = time.perf_counter()
        qidx, rows, _ = index.range_search(queries, RADIUS)
        qps = len(queries) / (time.perf_counter() - started)
        found: list[set[int]] = [set() for _ in range(len(queries))]
        for q, r in zip(qidx.tolist(), rows.tolist(), strict=True):
            found[q].add(r)
        hard_recall = recall(
            [found[i] for i in np.flatnonzero(hard)], [expected[i] for i in np.flatnonzero(hard)]
        )
        cand = len(index.candidates(queries)[0]) / len(queries)
        # random candidates grow with the size; hits of the planted neighbour itself do not
        at_10m = cand + layout.tables * (1e7 - args.size) / 2**layout.chunk_bits
        memory = 1e7 * (32 + 4 * layout.tables) + 4 * layout.tables * (2**layout.chunk_bits + 1)
        print(
            f"| {spec} | {layout.tables} | {build:.1f} | {qps:,.0f} "
            f"| {recall(found, expected):.4f} | {hard_recall:.3f} | {cand:,.0f} "
            f"| {at_10m:,.0f} | {memory / 1e9:.2f} |",
            flush=True,
        )
        del index


def _nearest(expected: list[set[int]]) -> list[int]:
    """Any true neighbour per query (the planted one; random others lie ~128 bits away)."""
    return [min(e) if e else 0 for e in expected]


if __name__ == "__main__":
    main()
