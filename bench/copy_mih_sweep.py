"""Sweep FAISS multi-index-hashing layouts for PDQ range search at radius 31.

For each ``NHASHxBITS[xPERMS]`` layout: build ``PERMS`` ``IndexBinaryMultiHash`` indexes
(``nflip=0``), each over a different fixed permutation of the 256 bits (the first is the
identity), search all of them and take the union. Reports build time, lookups/s (one thread),
recall of the planted neighbour overall and for the hardest queries (28-31 bits away), and
the expected candidates per query at 10M hashes (``PERMS * NHASH * 1e7 / 2**BITS``), which is
what the lookup cost scales with. More permutations buy recall back for longer chunks (fewer
candidates) at the price of memory: each permutation holds its own code copy and tables.

Usage::

    nice -n 10 python bench/copy_mih_sweep.py --size 1000000 --layouts 17x15 16x16 14x18x2
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import faiss
import numpy as np
import numpy.typing as npt


def permute(codes: npt.NDArray[np.uint8], perm: npt.NDArray[np.intp]) -> npt.NDArray[np.uint8]:
    """Apply a bit permutation to packed 256-bit codes."""
    return np.packbits(np.unpackbits(codes, axis=1)[:, perm], axis=1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=4_000)
    parser.add_argument("--layouts", nargs="+",
                        default=["17x15", "16x16", "14x18x2", "12x21x2", "12x21x3"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    codes = rng.integers(0, 256, (args.size, 32), dtype=np.uint8)
    targets = rng.integers(0, args.size, args.queries)
    bits = np.unpackbits(codes[targets], axis=1)
    flips = rng.integers(0, 32, args.queries)
    for row in range(args.queries):
        bits[row, rng.choice(256, int(flips[row]), replace=False)] ^= 1
    queries = np.packbits(bits, axis=1)
    print("| layout | build s | lookups/s | recall@31 | recall 28-31 bits | "
          "candidates/query at 10M |")
    print("|---|---:|---:|---:|---:|---:|")
    for layout in args.layouts:
        parts = [int(v) for v in layout.split("x")]
        nhash, nbits, nperm = parts[0], parts[1], parts[2] if len(parts) > 2 else 1
        perms = [np.arange(256)] + [np.random.default_rng(10 + j).permutation(256)
                                    for j in range(nperm - 1)]
        started = time.perf_counter()
        indexes = []
        for perm in perms:
            index = faiss.IndexBinaryMultiHash(256, nhash, nbits)
            index.nflip = 0
            index.add(permute(codes, perm))
            indexes.append(index)
        build = time.perf_counter() - started
        permuted = [permute(queries, perm) for perm in perms]
        started = time.perf_counter()
        results = [index.range_search(q, 32) for index, q in zip(indexes, permuted, strict=True)]
        qps = args.queries / (time.perf_counter() - started)
        found = np.zeros(args.queries, dtype=bool)
        for lims, _, ids in results:
            found |= np.array([targets[i] in ids[lims[i]:lims[i + 1]]
                               for i in range(args.queries)])
        edge = found[flips >= 28].mean()
        print(f"| {layout} | {build:.1f} | {qps:,.0f} | {found.mean():.4f} | {edge:.3f} | "
              f"{nperm * nhash * 1e7 / 2**nbits:,.0f} |", flush=True)
        del indexes


if __name__ == "__main__":
    main()
