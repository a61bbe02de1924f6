"""Multi-index hashing over 256-bit codes as flat numpy arrays (CSR buckets, no hash maps).

Each of ``perms`` fixed random bit permutations is cut into ``chunks`` keys of ``chunk_bits``
bits (``chunks * chunk_bits <= bits``), giving ``T = perms * chunks`` tables. A stored code is
a candidate for a query when any one of its ``T`` keys equals the query's; candidates are then
checked at full Hamming distance. A code at distance ``d`` is missed only when, in every
permutation, each chunk has at least one of the ``d`` flipped bits; more permutations buy
recall back for longer chunks, and longer chunks mean far fewer candidates.

Table ``t`` is stored in CSR form: ``offsets[t]`` (``2**chunk_bits + 1`` int32) and the row
numbers sorted by key (int32, one slot per row, with spare capacity so that appends merge in
place). A lookup is two gathers; a batch of queries is answered with a handful of vectorised
numpy calls (gather candidate rows for the whole batch, XOR the 4 x uint64 words,
``np.bitwise_count``, mask by radius). There is no per-query de-duplication set: a row found
by several tables is checked several times, and only the few rows within the radius are
de-duplicated (``np.unique``).

Why not FAISS: its ``IndexBinaryMultiHash`` keeps each table as an ``unordered_map`` and
de-duplicates every candidate through a per-query set, and one permutation of 15-bit chunks
(what recall >= 0.99 needs there) leaves about 5,200 candidates per query at 10M hashes. On
the project's 2-core VM, at 10M hashes, its 17x15 layout gave 2,060 lookups/s batched (recall
0.994, 4.7 GB peak resident while building) against this module's 12x21x4 with 25,400 on one
thread (recall 0.997, 3.5 GB peak, 2.9 GB after building), about 250 candidates per query;
a 14x18 x 2 layout in FAISS would have taken about 20 minutes to build (hash maps with 2^18
buckets). Figures and commands: docs/benchmarks.md, "Copy search".

Appends go to a pending tail that is searched exhaustively and merged into the tables once it
exceeds :data:`MERGE_AT` rows (an in-place insert per table, linear in the table size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

MERGE_AT: Final = 4096
"""Pending rows searched exhaustively before they are merged into the tables."""
_BLOCK: Final = 1 << 17
"""Rows per block when computing keys (bounds the unpacked-bits temporary to 32 MiB)."""
_GROUP: Final = 6
"""Tables whose keys are computed together while building (6 x 4 bytes per code)."""
_PENDING_CELLS: Final = 1 << 22
"""Bound on queries x pending rows compared at once."""
_QUERY_BLOCK: Final = 4096
"""Queries answered per vectorised pass (bounds the candidate temporaries to ~100 MB)."""

Codes64 = npt.NDArray[np.uint64]
Rows = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Layout:
    """``chunks`` keys of ``chunk_bits`` bits over each of ``perms`` bit permutations."""

    chunks: int
    chunk_bits: int
    perms: int

    @classmethod
    def parse(cls, spec: str) -> Layout:
        """``"12x21x4"`` (or ``"17x15"``: one permutation)."""
        parts = [int(p) for p in spec.lower().split("x")]
        if len(parts) == 2:
            parts.append(1)
        if len(parts) != 3 or min(parts) < 1:
            raise ValueError(f"layout must be CHUNKSxBITS[xPERMS], not {spec!r}")
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.chunks}x{self.chunk_bits}x{self.perms}"

    @property
    def tables(self) -> int:
        """Number of tables (keys per code)."""
        return self.chunks * self.perms


def key_positions(layout: Layout, bits: int, seed: int = 0) -> npt.NDArray[np.int64]:
    """Bit positions of every key, shape ``(tables, chunk_bits)``; the first permutation is
    the identity, the others are drawn from ``seed``."""
    if layout.chunks * layout.chunk_bits > bits or layout.chunk_bits > 30:
        raise ValueError(f"layout {layout} does not fit {bits}-bit codes")
    rng = np.random.default_rng(seed)
    perms = [np.arange(bits)] + [rng.permutation(bits) for _ in range(layout.perms - 1)]
    used = layout.chunks * layout.chunk_bits
    return np.concatenate([p[:used].reshape(layout.chunks, layout.chunk_bits) for p in perms])


def keys_of(
    codes: npt.NDArray[np.uint8], positions: npt.NDArray[np.int64], tables: slice | None = None
) -> npt.NDArray[np.uint32]:
    """Keys of ``codes`` (packed bytes, shape ``(n, bits // 8)``) for the selected tables,
    shape ``(n, t)``."""
    pos = positions if tables is None else positions[tables]
    t, b = pos.shape
    out = np.empty((len(codes), t), dtype=np.uint32)
    flat = pos.reshape(-1)
    for lo in range(0, len(codes), _BLOCK):
        bits = np.unpackbits(codes[lo : lo + _BLOCK], axis=1)[:, flat].reshape(-1, t, b)
        packed = np.packbits(bits, axis=2, bitorder="little")
        if packed.shape[2] < 4:
            packed = np.pad(packed, ((0, 0), (0, 0), (0, 4 - packed.shape[2])))
        out[lo : lo + _BLOCK] = packed.view("<u4")[:, :, 0]
    return out


def sort_keys(keys: npt.NDArray[np.uint32]) -> npt.NDArray[np.intp]:
    """A stable argsort of keys below ``2**32`` as two 16-bit radix passes (numpy sorts
    16-bit integers stably by radix; 4x faster than ``argsort`` of 10M 21-bit keys here)."""
    low = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    if not (keys >> 16).any():
        return low
    high = (keys[low] >> 16).astype(np.uint16)
    return low[np.argsort(high, kind="stable")]


class MultiIndexHash:
    """CSR multi-index hashing over rows ``0..n-1`` of a code array it owns.

    Rows are positions, not ids: the caller keeps the row-to-id map and which rows are live.
    """

    def __init__(self, bits: int, layout: Layout, seed: int = 0) -> None:
        if bits % 64:
            raise ValueError("multi-index hashing needs codes of a multiple of 64 bits")
        self.bits = bits
        self.layout = layout
        self.positions = key_positions(layout, bits, seed)
        self._codes = np.zeros((0, bits // 8), dtype=np.uint8)
        self._n = 0
        self._indexed = 0
        self._capacity = 0
        self._offsets = np.zeros((layout.tables, (1 << layout.chunk_bits) + 1), dtype=np.int32)
        self._rows = np.zeros((layout.tables, 0), dtype=np.int32)

    def __len__(self) -> int:
        return self._n

    @property
    def codes(self) -> npt.NDArray[np.uint8]:
        """The stored codes by row (a view; do not modify)."""
        return self._codes[: self._n]

    @property
    def pending(self) -> int:
        """Rows appended since the last merge (searched exhaustively)."""
        return self._n - self._indexed

    # --- building -----------------------------------------------------------------------

    def build(self, codes: npt.NDArray[np.uint8], spare: float = 1 / 16) -> None:
        """Replace the content with ``codes`` and index all of it."""
        n = len(codes)
        self._codes = np.array(codes, dtype=np.uint8, order="C")
        self._n = n
        self._rows = np.zeros((0, 0), dtype=np.int32)  # free the old tables first
        self._capacity = n + max(MERGE_AT, int(n * spare))
        if self._capacity >= 2**31:
            raise ValueError("too many codes for int32 rows")
        nkeys = 1 << self.layout.chunk_bits
        self._rows = np.empty((self.layout.tables, self._capacity), dtype=np.int32)
        self._offsets = np.empty((self.layout.tables, nkeys + 1), dtype=np.int32)
        group = _GROUP  # keys of a few tables at a time: bounds the temporary memory
        for first in range(0, self.layout.tables, group):
            keys = keys_of(self.codes, self.positions, slice(first, first + group))
            for j in range(keys.shape[1]):
                t = first + j
                column = np.ascontiguousarray(keys[:, j])
                self._rows[t, :n] = sort_keys(column)
                self._offsets[t, 0] = 0
                np.cumsum(np.bincount(column, minlength=nkeys), out=self._offsets[t, 1:])
            del keys
        self._indexed = n

    def append(self, codes: npt.NDArray[np.uint8]) -> None:
        """Append rows; they are searched at once and merged into the tables in bulk."""
        if len(codes) == 0:
            return
        need = self._n + len(codes)
        if need > len(self._codes):  # amortised growth: appends do not copy every time
            grown = np.empty(
                (max(need, len(self._codes) * 9 // 8 + 1024), self.bits // 8), dtype=np.uint8
            )
            grown[: self._n] = self.codes
            self._codes = grown
        self._codes[self._n : need] = codes
        self._n = need
        if self.pending >= MERGE_AT:
            self.merge()

    def merge(self) -> None:
        """Insert the pending rows into every table (a full build if capacity runs out)."""
        n = len(self.codes)
        if n == self._indexed:
            return
        if n > self._capacity:
            self.build(self.codes)
            return
        new = np.arange(self._indexed, n, dtype=np.int32)
        keys = keys_of(self.codes[self._indexed :], self.positions)
        nkeys = 1 << self.layout.chunk_bits
        for t in range(self.layout.tables):
            order = sort_keys(keys[:, t])
            k = keys[order, t]
            # each new row goes to the end of its bucket: rows stay ascending within a bucket
            merged = np.insert(self._rows[t, : self._indexed], self._offsets[t, k + 1], new[order])
            self._rows[t, :n] = merged
            shift = np.zeros(nkeys + 1, dtype=np.int32)
            np.cumsum(np.bincount(k, minlength=nkeys), out=shift[1:])
            self._offsets[t] += shift
        self._indexed = n

    # --- search -------------------------------------------------------------------------

    def candidates(self, queries: npt.NDArray[np.uint8]) -> tuple[Rows, npt.NDArray[np.int32]]:
        """``(query index, row)`` for every bucket entry sharing a key with a query, plus
        every pending row; repeats are possible."""
        nq = len(queries)
        t = self.layout.tables
        keys = keys_of(queries, self.positions).astype(np.int64)
        width = self._offsets.shape[1]
        flat_keys = keys + (np.arange(t, dtype=np.int64) * width)[None, :]
        offsets = self._offsets.reshape(-1)
        starts = offsets[flat_keys].astype(np.int64)
        counts = offsets[flat_keys + 1] - starts
        starts += (np.arange(t, dtype=np.int64) * self._capacity)[None, :]
        counts_flat = counts.reshape(-1)
        total = int(counts_flat.sum())
        before = np.cumsum(counts_flat) - counts_flat
        pos = np.repeat(starts.reshape(-1) - before, counts_flat) + np.arange(total)
        rows = self._rows.reshape(-1)[pos]
        qidx = np.repeat(np.arange(nq, dtype=np.int64), counts.sum(axis=1))
        if self.pending:
            tail = np.arange(self._indexed, len(self.codes), dtype=np.int32)
            qidx = np.concatenate([qidx, np.repeat(np.arange(nq, dtype=np.int64), len(tail))])
            rows = np.concatenate([rows, np.tile(tail, nq)])
        return qidx, rows

    def range_search(
        self, queries: npt.NDArray[np.uint8], radius: int, live: npt.NDArray[np.bool_] | None = None
    ) -> tuple[Rows, Rows, npt.NDArray[np.int32]]:
        """``(query index, row, distance)`` of live candidate rows within ``radius``, each
        pair once, sorted by query then row."""
        step = (
            _QUERY_BLOCK
            if not self.pending
            else max(1, min(_QUERY_BLOCK, _PENDING_CELLS // self.pending))
        )
        parts = [
            self._range(queries[lo : lo + step], radius, live, lo)
            for lo in range(0, len(queries), step)
        ]
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.int32)
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )

    def _range(
        self,
        queries: npt.NDArray[np.uint8],
        radius: int,
        live: npt.NDArray[np.bool_] | None,
        base: int,
    ) -> tuple[Rows, Rows, npt.NDArray[np.int32]]:
        qidx, rows = self.candidates(queries)
        words = self.codes.view(np.uint64)
        x = words[rows]
        x ^= queries.view(np.uint64)[qidx]
        dist = np.bitwise_count(x).sum(axis=1, dtype=np.int32)
        keep = dist <= radius
        if live is not None:
            keep &= live[rows]
        qidx, rows, dist = qidx[keep], rows[keep].astype(np.int64), dist[keep]
        _, first = np.unique(qidx * len(self.codes) + rows, return_index=True)
        return qidx[first] + base, rows[first], dist[first]

    # --- persistence --------------------------------------------------------------------

    def state(self) -> dict[str, npt.NDArray[np.generic]]:
        """Arrays that :meth:`from_state` restores (the tables trimmed to the used rows)."""
        self.merge()
        return {
            "mih_positions": self.positions,
            "mih_offsets": self._offsets,
            "mih_rows": self._rows[:, : self._indexed],
        }

    @classmethod
    def from_state(
        cls,
        bits: int,
        layout: Layout,
        codes: npt.NDArray[np.uint8],
        arrays: dict[str, npt.NDArray[np.generic]],
    ) -> MultiIndexHash:
        """Rebuild an index from :meth:`state` output and its codes without re-sorting."""
        self = cls(bits, layout)
        self.positions = np.asarray(arrays["mih_positions"], dtype=np.int64)
        rows = np.asarray(arrays["mih_rows"], dtype=np.int32)
        offsets = np.asarray(arrays["mih_offsets"], dtype=np.int32)
        n = len(codes)
        if (
            rows.shape != (layout.tables, n)
            or offsets.shape != self._offsets.shape
            or self.positions.shape != (layout.tables, layout.chunk_bits)
        ):
            raise ValueError("multi-index arrays do not match the layout")
        self._codes = np.array(codes, dtype=np.uint8, order="C")
        self._n = n
        self._capacity = n + max(MERGE_AT, n // 16)
        self._rows = np.empty((layout.tables, self._capacity), dtype=np.int32)
        self._rows[:, :n] = rows
        self._offsets = offsets.copy()
        self._indexed = n
        return self

    def nbytes(self) -> int:
        """Memory held by the codes and tables."""
        return int(self.codes.nbytes + self._rows.nbytes + self._offsets.nbytes)
