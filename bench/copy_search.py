"""Benchmark PDQ range search at radius 31: provreg's BinaryHashIndex vs python-threatexchange.

Data: N uniformly random 256-bit hashes ("PDQ-like": PDQ bits are balanced and close to
independent for unrelated images) and queries made by flipping 0..31 random bits (uniform)
of a randomly chosen stored hash, so every query has a planted neighbour within radius 31.

For each index the run reports build time, resident-memory growth while it is alive,
serialised index size, lookups/s for one batched call and for single-query calls, and recall
against exact brute force (FAISS ``IndexBinaryFlat``, itself checked against a numpy oracle
in tests/detectors/test_copy_binary_index.py) on a sample of queries.

Compared, on the same data in the same process:

- ``provreg-mih``: :class:`detectors.copy.binary_index.BinaryHashIndex` kind ``mih``
  (numpy CSR multi-index hashing, layout ``12x21x4`` unless ``--layouts`` says otherwise),
  batched search timed with one thread and again with the batch split over two threads
  (column "batched 2 threads"; single-query calls always use one);
- ``faiss-mih``: FAISS ``IndexBinaryMultiHash`` (``nflip=0``) in ``IndexBinaryIDMap2``, the
  layout provreg used before (``17x15`` unless ``--faiss-mih`` says otherwise);
- ``provreg-flat``: the same class, exact flat layout (sizes up to ``--flat-max-size``);
- ``te-PDQIndex``: ``threatexchange.signal_type.pdq.pdq_index.PDQIndex`` (FAISS MIH, 16
  tables, nflip 1);
- ``te-PDQIndex2``: ``threatexchange.signal_type.pdq.pdq_index2.PDQIndex2`` (FAISS
  ``IndexFlatL2`` over 256 float bits, 1 KiB per hash; sizes up to ``--te-max-size``).

Single-query figures for the threatexchange indexes go through their public ``query()``;
batched figures through the batched search of the object they wrap (their public API has no
batch query).

Usage::

    nice -n 10 python -m bench.copy_search                       # quick: 100k hashes
    nice -n 10 python -m bench.copy_search --sizes 1000000 10000000
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from detectors.copy.binary_index import BinaryHashIndex

RADIUS = 31


@dataclass
class Row:
    """One index at one size."""

    index: str
    size: int
    build_s: float
    rss_delta_mb: float
    peak_delta_mb: float
    """Growth of the peak RSS over the whole measurement (build, queries, recall)."""
    index_mb: float
    batched_qps: float
    single_qps: float
    recall: float
    note: str = ""
    batched2_qps: float = 0.0
    """Batched lookups/s with two threads (0: not measured)."""


def rss_mb(field: str = "VmRSS") -> float:
    """Current (``VmRSS``) or peak (``VmHWM``) resident set size in MiB (Linux /proc)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_peak_rss() -> None:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0; ignored where refused)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def make_data(
    n: int, nq: int, seed: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """``n`` random hashes and ``nq`` queries within 0..31 bits of a planted target."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    targets = rng.integers(0, n, nq).astype(np.int64)
    bits = np.unpackbits(codes[targets], axis=1)
    flips = rng.integers(0, RADIUS + 1, nq)
    order = np.argsort(rng.random((nq, 256)), axis=1)
    mask = np.arange(256)[None, :] < flips[:, None]
    rows = np.repeat(np.arange(nq), 256).reshape(nq, 256)
    bits[rows[mask], order[mask]] ^= 1
    return codes, np.packbits(bits, axis=1), targets


def truth(codes: npt.NDArray[np.uint8], queries: npt.NDArray[np.uint8]) -> list[set[int]]:
    """Exact neighbour sets within RADIUS (brute force)."""
    flat = faiss.IndexBinaryFlat(256)
    flat.add(codes)
    lims, _, ids = flat.range_search(queries, RADIUS + 1)
    return [set(ids[lims[i] : lims[i + 1]].tolist()) for i in range(len(queries))]


def recall(found: Sequence[set[int]], expected: Sequence[set[int]]) -> float:
    """Fraction of true (query, neighbour) pairs returned."""
    total = sum(len(e) for e in expected)
    hit = sum(len(f & e) for f, e in zip(found, expected, strict=True))
    return hit / max(total, 1)


def measure(*args: Any, **kwargs: Any) -> Row:
    """Run :func:`measure_here` in a forked child so each index's RSS growth is its own
    (a fresh allocator arena; the parent's data pages are shared, not counted)."""
    ctx = mp.get_context("fork")
    queue: Any = ctx.Queue()
    child = ctx.Process(target=lambda: queue.put(measure_here(*args, **kwargs)))
    child.start()
    row: Row = queue.get()
    child.join()
    return row


def measure_here(
    name: str,
    size: int,
    build: Callable[[], Any],
    batch: Callable[[Any, npt.NDArray[np.uint8]], list[set[int]]],
    single: Callable[[Any, npt.NDArray[np.uint8]], set[int]],
    nbytes: Callable[[Any], int],
    queries: npt.NDArray[np.uint8],
    sample: npt.NDArray[np.uint8],
    expected: list[set[int]],
    n_single: int,
    note: str = "",
    batch2: Callable[[Any, npt.NDArray[np.uint8]], list[set[int]]] | None = None,
) -> Row:
    """Build one index and time it; the index is dropped before returning."""
    gc.collect()
    reset_peak_rss()
    before = rss_mb()
    started = time.perf_counter()
    index = build()
    build_s = time.perf_counter() - started
    rss_delta = rss_mb() - before
    batch(index, queries)  # warm-up (first-touch page faults, caches), not timed
    started = time.perf_counter()
    batch(index, queries)
    batched_qps = len(queries) / (time.perf_counter() - started)
    batched2_qps = 0.0
    if batch2 is not None:
        started = time.perf_counter()
        batch2(index, queries)
        batched2_qps = len(queries) / (time.perf_counter() - started)
    started = time.perf_counter()
    for row in range(n_single):
        single(index, queries[row : row + 1])
    single_qps = n_single / (time.perf_counter() - started)
    rec = recall(batch(index, sample), expected)
    size_mb = nbytes(index) / 2**20
    peak_delta = rss_mb("VmHWM") - before
    del index
    gc.collect()
    result = Row(
        name,
        size,
        round(build_s, 2),
        round(rss_delta, 1),
        round(peak_delta, 1),
        round(size_mb, 1),
        round(batched_qps),
        round(single_qps),
        round(rec, 4),
        note,
        round(batched2_qps),
    )
    print(json.dumps(asdict(result)), flush=True)
    return result


def provreg_rows(kind: str, layout: str, codes: npt.NDArray[np.uint8], **common: Any) -> Row:
    ids = np.arange(len(codes), dtype=np.int64)

    def build() -> BinaryHashIndex:
        index = BinaryHashIndex(kind=kind, layout=layout)  # type: ignore[arg-type]
        index.add(ids, codes)
        return index

    def batch(index: BinaryHashIndex, q: npt.NDArray[np.uint8], threads: int = 1) -> list[set[int]]:
        result = index.range_search(q, RADIUS, threads=threads)
        return [
            set(result.ids[result.lims[i] : result.lims[i + 1]].tolist()) for i in range(len(q))
        ]

    def batch2(index: BinaryHashIndex, q: npt.NDArray[np.uint8]) -> list[set[int]]:
        return batch(index, q, threads=2)

    def single(index: BinaryHashIndex, q: npt.NDArray[np.uint8]) -> set[int]:
        return set(index.range_search(q, RADIUS).ids.tolist())

    if kind == "flat":
        return measure(
            "provreg-flat", len(codes), build, batch, single, lambda i: i.nbytes(), **common
        )
    return measure(
        f"provreg-mih{layout}",
        len(codes),
        build,
        batch,
        single,
        lambda i: i.nbytes(),
        batch2=batch2,
        **common,
    )


def faiss_mih_rows(nhash: int, bits: int, codes: npt.NDArray[np.uint8], **common: Any) -> Row:
    ids = np.arange(len(codes), dtype=np.int64)

    def build() -> Any:
        inner = faiss.IndexBinaryMultiHash(256, nhash, bits)
        inner.nflip = 0
        index = faiss.IndexBinaryIDMap2(inner)
        index.add_with_ids(codes, ids)
        return index

    def batch(index: Any, q: npt.NDArray[np.uint8]) -> list[set[int]]:
        lims, _, found = index.range_search(q, RADIUS + 1)
        return [set(found[lims[i] : lims[i + 1]].tolist()) for i in range(len(q))]

    def single(index: Any, q: npt.NDArray[np.uint8]) -> set[int]:
        return set(index.range_search(q, RADIUS + 1)[2].tolist())

    return measure(
        f"faiss-mih{nhash}x{bits}",
        len(codes),
        build,
        batch,
        single,
        lambda i: len(faiss.serialize_index_binary(i)),
        **common,
    )


def te_rows(which: str, codes: npt.NDArray[np.uint8], note: str = "", **common: Any) -> Row:
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex
    from threatexchange.signal_type.pdq.pdq_index2 import PDQIndex2

    cls: Any = PDQIndex if which == "PDQIndex" else PDQIndex2
    hexes = [bytes(row).hex() for row in codes]

    def build() -> Any:
        return cls(entries=zip(hexes, range(len(hexes)), strict=True))

    def to_hex(q: npt.NDArray[np.uint8]) -> list[str]:
        return [bytes(row).hex() for row in q]

    def batch(index: Any, q: npt.NDArray[np.uint8]) -> list[set[int]]:
        qs = to_hex(q)
        if which == "PDQIndex":
            out = index.index.search_with_distance_in_result(qs, RADIUS)
            return [{int(i) for i, _, _ in out[h]} for h in qs]
        found: list[set[int]] = []
        for h in qs:  # its batched search merges queries' results, so split per query
            found.append({m for m, _ in index._index.search([h], RADIUS)})
        return found

    def single(index: Any, q: npt.NDArray[np.uint8]) -> set[int]:
        return {m.metadata for m in index.query(to_hex(q)[0])}

    def nbytes(index: Any) -> int:
        if which == "PDQIndex":
            return len(faiss.serialize_index_binary(index.index.faiss_index))
        return len(faiss.serialize_index(index._index.faiss_index))

    return measure(f"te-{which}", len(codes), build, batch, single, nbytes, note=note, **common)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=10_000, help="batched queries")
    parser.add_argument("--single", type=int, default=1_000, help="single-query calls")
    parser.add_argument("--recall-sample", type=int, default=1_000)
    parser.add_argument(
        "--layouts", nargs="+", default=["12x21x4"], help="provreg MIH layouts CHUNKSxBITSxPERMS"
    )
    parser.add_argument(
        "--faiss-mih",
        nargs="*",
        default=["17x15"],
        help="FAISS IndexBinaryMultiHash configs NHASHxBITS (none: skip)",
    )
    parser.add_argument("--flat-max-size", type=int, default=1_000_000)
    parser.add_argument("--te-max-size", type=int, default=1_000_000)
    parser.add_argument(
        "--te2-queries",
        type=int,
        default=200,
        help="queries for PDQIndex2 (batched, single and recall each)",
    )
    parser.add_argument("--no-te", action="store_true", help="skip threatexchange")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="FAISS OpenMP threads (0: FAISS default). On a small, shared "
        "machine one thread avoids OpenMP spin-wait overhead",
    )
    args = parser.parse_args(argv)
    if args.threads > 0:
        faiss.omp_set_num_threads(args.threads)
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()} {faiss.omp_get_max_threads()} threads",
                "faiss": faiss.__version__,
                "radius": RADIUS,
            }
        ),
        flush=True,
    )
    rows: list[Row] = []
    for size in args.sizes:
        codes, queries, _ = make_data(size, args.queries, args.seed)
        sample = queries[: args.recall_sample]
        common = {
            "queries": queries,
            "sample": sample,
            "expected": truth(codes, sample),
            "n_single": args.single,
        }
        for spec in args.layouts:
            rows.append(provreg_rows("mih", spec, codes, **common))
        for spec in args.faiss_mih:
            nhash, bits = (int(v) for v in spec.split("x"))
            rows.append(faiss_mih_rows(nhash, bits, codes, **common))
        if size <= args.flat_max_size:
            rows.append(provreg_rows("flat", "12x21x4", codes, **common))
        if not args.no_te and size <= args.te_max_size:
            rows.append(te_rows("PDQIndex", codes, **common))
            # PDQIndex2 is exhaustive float search: time it on fewer queries.
            few = args.te2_queries
            te2 = dict(
                common,
                queries=queries[:few],
                sample=sample[:few],
                expected=common["expected"][:few],
                n_single=min(few, args.single),
            )
            rows.append(
                te_rows("PDQIndex2", codes, **te2, note=f"{few} queries (exhaustive float search)")
            )
        del codes
        gc.collect()
    print()
    print(
        "| index | hashes | build s | RSS delta MB | peak RSS delta MB | index MB "
        "| lookups/s batched | batched 2 threads | lookups/s single | recall@31 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        two = f"{r.batched2_qps:,}" if r.batched2_qps else "-"
        print(
            f"| {r.index} | {r.size:,} | {r.build_s} | {r.rss_delta_mb} "
            f"| {r.peak_delta_mb} | {r.index_mb} "
            f"| {r.batched_qps:,} | {two} | {r.single_qps:,} | {r.recall} |"
        )


if __name__ == "__main__":
    main()
