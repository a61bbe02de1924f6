"""Retro-matching speed: 1,000 new references searched against an archive of N PDQ hashes.

What ``provreg bank add`` does after its rows are written (registry/banks/retro): load the
saved archive index (the copy detector's :class:`BinaryHashIndex`: FAISS flat up to 50,000
hashes, multi-index hashing above) and range-search the new references at the bank's PDQ
threshold (31). The archive is synthetic: N uniformly random 256-bit hashes, among them one
planted near-duplicate per reference at a Hamming distance drawn uniformly from 0..31, so the
run also reports recall (planted copies found / planted).

Columns: build (building the index from N hashes: done once, then kept up to date by
ingestion), save / load (the saved ``.npz``), search (the 1,000 range queries: the retro-match
figure, with load it is what a ``bank add`` waits for), peak RSS.

Run: nice -n 10 .venv/bin/python -m bench.retro_match [N...]   (default 100000 1000000)
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from detectors.copy.binary_index import BinaryHashIndex

REFERENCES = 1000
RADIUS = 31
CHUNK = 1_000_000


def _planted(rng: np.random.Generator, refs: np.ndarray) -> np.ndarray:
    """One copy of each reference with a uniform 0..31 random bits flipped."""
    bits = np.unpackbits(refs, axis=1)
    for row, flips in zip(bits, rng.integers(0, RADIUS + 1, len(refs)), strict=True):
        where = rng.choice(256, size=int(flips), replace=False)
        row[where] ^= 1
    return np.packbits(bits, axis=1)


def run(n: int, seed: int = 0) -> dict[str, float]:
    """Build, save, load and search an archive of ``n`` hashes; timings in seconds."""
    rng = np.random.default_rng(seed)
    refs = rng.integers(0, 256, (REFERENCES, 32), dtype=np.uint8)
    codes = np.empty((n, 32), dtype=np.uint8)
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        codes[start:stop] = rng.integers(0, 256, (stop - start, 32), dtype=np.uint8)
    slots = rng.choice(n, size=REFERENCES, replace=False)
    codes[slots] = _planted(rng, refs)
    ids = np.arange(1, n + 1, dtype=np.int64)
    t0 = time.perf_counter()
    index = BinaryHashIndex()
    index.rebuild(ids, codes)
    build = time.perf_counter() - t0
    del codes
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "archive.npz"
        t0 = time.perf_counter()
        index.save(path)
        save = time.perf_counter() - t0
        del index
        t0 = time.perf_counter()
        loaded = BinaryHashIndex.load(path)
        load = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = loaded.range_search(refs, RADIUS)
    search = time.perf_counter() - t0
    hits = sum(int(slots[q]) + 1 in {i for i, _ in found.hits(q)} for q in range(REFERENCES))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    return {
        "n": n,
        "layout": loaded.layout,
        "build": build,
        "save": save,
        "load": load,
        "search": search,
        "recall": hits / REFERENCES,
        "pairs": len(found.ids),
        "peak_gb": peak,
    }


def main(sizes: list[int]) -> None:
    print(
        "| archive hashes | index | build s | save s | load s | search 1,000 refs s "
        "| recall (planted) | pairs found | peak RSS GB |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        r = run(n)
        print(
            f"| {r['n']:,} | {r['layout']} | {r['build']:.1f} | {r['save']:.1f} "
            f"| {r['load']:.1f} | {r['search']:.3f} | {r['recall']:.3f} | {r['pairs']} "
            f"| {r['peak_gb']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
