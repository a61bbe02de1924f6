"""A typed index over binary hashes (PDQ: 256 bits) with external int64 ids.

Two layouts, chosen by size (``kind="auto"``):

``flat``
    FAISS ``IndexBinaryFlat`` inside ``IndexBinaryIDMap2``: exhaustive, exact range and k-NN
    search; supports removal directly. Used up to :data:`FLAT_MAX_SIZE` hashes.
``mih``
    Multi-index hashing, :class:`detectors.copy.mih.MultiIndexHash`: CSR tables built with
    numpy over several bit permutations (why not FAISS's ``IndexBinaryMultiHash``: see that
    module). Sub-linear but approximate: a hash at distance ``d`` is missed only when, in
    every permutation, each chunk holds one of the ``d`` differing bits. The default
    layouts (:data:`MIH_LAYOUTS`: ``13x19x3`` below 4M hashes, ``12x21x4`` — 12 chunks of 21
    bits over 4 permutations — above) were chosen by measurement (docs/benchmarks.md, "Copy
    search"): recall >= 0.99 at radius 31 with planted neighbours at uniform distance 0..31,
    at about 230 candidates per query at 10M.
    Removal marks rows dead (tombstones) and they are dropped at :meth:`compact` /
    :meth:`rebuild`, or automatically once half the rows are dead; appends are searched
    exhaustively until merged into the tables in bulk.

Distances follow the PDQ convention "match when distance <= radius" (FAISS's own binary
range search is strict, ``< radius``; the wrapper adds one).

Persistence writes one uncompressed ``.npz`` file (format 2: the FAISS bytes for ``flat``;
ids, codes, live flags and the CSR tables for ``mih``, so loading does not re-sort) to a
temporary file in the same directory, fsyncs it and renames it over the target, so a reader
sees either the old or the new index, never a torn one. Format-1 files (FAISS serialised
indexes of earlier versions) are still read: their entries are re-indexed on load.

The errors and the batched :class:`SearchResult` live in :mod:`detectors.copy.binary_results`
(re-exported here).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any, Final, Literal

import faiss
import numpy as np
import numpy.typing as npt

from detectors.atomic import write_atomically
from detectors.copy.binary_format1 import load_format1
from detectors.copy.binary_results import (
    BinaryIndexError,
    Codes,
    DuplicateIdError,
    Ids,
    IndexFileError,
    SearchResult,
    empty_result,
    result_from_pairs,
    sorted_result,
)
from detectors.copy.mih import Layout, MultiIndexHash

IndexKind = Literal["auto", "flat", "mih"]

FLAT_MAX_SIZE: Final = 50_000
"""Above this many hashes ``kind="auto"`` switches from exact flat search to MIH."""
MIH_LAYOUTS: Final = ((1 << 22, "13x19x3"), (1 << 62, "12x21x4"))
"""``layout="auto"``: the first layout whose size bound is at least the number of hashes.
Chunks of 21 bits cost ``48 * 2**21`` int32 offsets (400 MB) whatever the size; below 4M
hashes 13x19 over three permutations needs a fifth of that, at higher recall (0.9985 vs
0.997 at 1M) for about three times the candidates."""
_FORMAT: Final = 2
_AUTO_COMPACT: Final = 0.5
"""Fraction of dead rows at which an MIH index compacts itself on removal."""

__all__ = [
    "FLAT_MAX_SIZE",
    "MIH_LAYOUTS",
    "BinaryHashIndex",
    "BinaryIndexError",
    "DuplicateIdError",
    "IndexFileError",
    "IndexKind",
    "SearchResult",
]


class BinaryHashIndex:
    """Range and k-NN search over binary hashes keyed by caller-chosen int64 ids."""

    def __init__(
        self,
        bits: int = 256,
        kind: IndexKind = "auto",
        *,
        layout: str = "auto",
        flat_max_size: int = FLAT_MAX_SIZE,
    ) -> None:
        if bits % 8:
            raise ValueError("bits must be a multiple of 8")
        self.bits = bits
        self.kind: IndexKind = kind
        self.mih_spec = layout
        """``"auto"`` or a fixed layout ``CHUNKSxBITSxPERMS``."""
        if layout != "auto":
            Layout.parse(layout)
        self.flat_max_size = flat_max_size
        self._layout: Literal["flat", "mih"] = "mih" if kind == "mih" else "flat"
        self._flat: Any = self._empty_flat()
        self._mih = MultiIndexHash(bits, self._mih_layout_for(0)) if kind == "mih" else None
        self._ids = np.zeros(0, dtype=np.int64)
        """MIH only: the id of each row (a grown buffer; rows ``len(self._mih)`` and up unused)."""
        self._live = np.zeros(0, dtype=bool)
        self._n_live = 0

    # --- construction -------------------------------------------------------------------

    def _empty_flat(self) -> Any:
        return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(self.bits))

    def _mih_layout_for(self, size: int) -> Layout:
        if self.mih_spec != "auto":
            return Layout.parse(self.mih_spec)
        return Layout.parse(next(spec for bound, spec in MIH_LAYOUTS if size <= bound))

    @property
    def mih_layout(self) -> Layout | None:
        """The multi-index layout in use (None for ``flat``)."""
        return None if self._mih is None else self._mih.layout

    def _layout_for(self, size: int) -> Literal["flat", "mih"]:
        if self.kind == "auto":
            return "flat" if size <= self.flat_max_size else "mih"
        return self.kind

    @property
    def layout(self) -> Literal["flat", "mih"]:
        """The layout in use now (``kind="auto"`` resolves by size)."""
        return self._layout

    def __len__(self) -> int:
        """Number of live (not removed) hashes."""
        return int(self._flat.ntotal) if self._mih is None else self._n_live

    @property
    def tombstones(self) -> frozenset[int]:
        """Ids removed from an MIH index but still physically present until compaction."""
        if self._mih is None:
            return frozenset()
        n = len(self._mih)
        dead = set(self._ids[:n][~self._live[:n]].tolist())
        return frozenset(dead - set(self._ids[:n][self._live[:n]].tolist()))

    def _check(self, ids: npt.ArrayLike, codes: npt.ArrayLike) -> tuple[Ids, Codes]:
        id_arr = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))
        code_arr = np.ascontiguousarray(np.asarray(codes, dtype=np.uint8))
        if code_arr.ndim != 2 or code_arr.shape[1] != self.bits // 8:
            raise ValueError(f"hashes must have shape (n, {self.bits // 8})")
        if len(id_arr) != len(code_arr):
            raise ValueError("ids and hashes differ in length")
        if len(np.unique(id_arr)) != len(id_arr):
            raise DuplicateIdError("ids repeat within one call")
        return id_arr, code_arr

    def _live_ids(self) -> Ids:
        if self._mih is None:
            n = int(self._flat.ntotal)
            if n == 0:
                return np.zeros(0, dtype=np.int64)
            return faiss.rev_swig_ptr(self._flat.id_map.data(), n).view(np.int64)  # type: ignore[no-any-return]
        n = len(self._mih)
        return self._ids[:n][self._live[:n]]

    def entries(self) -> tuple[Ids, Codes]:
        """Copies of all live ``(ids, hashes)``, in insertion order."""
        if self._mih is None:
            n = int(self._flat.ntotal)
            if n == 0:
                return np.zeros(0, dtype=np.int64), np.zeros((0, self.bits // 8), np.uint8)
            inner: Any = faiss.downcast_IndexBinary(self._flat.index)
            codes = faiss.rev_swig_ptr(inner.xb.data(), n * (self.bits // 8)).reshape(n, -1)
            return self._live_ids().copy(), codes.copy()
        n = len(self._mih)
        live = self._live[:n]
        return self._ids[:n][live].copy(), self._mih.codes[live].copy()

    def add(self, ids: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        """Add hashes under new ids. Raises :class:`DuplicateIdError` if an id is live.

        The duplicate check scans the stored ids (linear in index size): add in batches.
        """
        id_arr, code_arr = self._check(ids, hashes)
        if len(id_arr) == 0:
            return
        stored = self._live_ids()
        clash = np.isin(stored, id_arr)
        if clash.any():
            raise DuplicateIdError(f"ids already present: {stored[clash][:5].tolist()}")
        size = len(self) + len(id_arr)
        target = self._layout_for(size)
        if target != self._layout or (
            self._mih is not None and self._mih.layout != self._mih_layout_for(size)
        ):
            old_ids, old_codes = self.entries()
            self.rebuild(np.concatenate([old_ids, id_arr]), np.concatenate([old_codes, code_arr]))
            return
        if self._mih is None:
            self._flat.add_with_ids(code_arr, id_arr)
            return
        n, need = len(self._mih), len(self._mih) + len(id_arr)
        if need > len(self._ids):  # amortised growth, like a list
            size = max(need, len(self._ids) * 9 // 8 + 1024)
            self._ids = np.concatenate([self._ids[:n], np.zeros(size - n, np.int64)])
            self._live = np.concatenate([self._live[:n], np.zeros(size - n, bool)])
        self._ids[n:need] = id_arr
        self._live[n:need] = True
        self._mih.append(code_arr)
        self._n_live += len(id_arr)

    def remove(self, ids: npt.ArrayLike) -> int:
        """Remove ids (unknown ids are ignored); returns how many live entries went away."""
        id_arr = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        if len(id_arr) == 0:
            return 0
        if self._mih is None:
            present = id_arr[np.isin(id_arr, self._live_ids())]
            return int(self._flat.remove_ids(present)) if len(present) else 0
        n = len(self._mih)
        rows = np.flatnonzero(np.isin(self._ids[:n], id_arr) & self._live[:n])
        self._live[rows] = False
        self._n_live -= len(rows)
        if len(rows) and n - self._n_live > _AUTO_COMPACT * n:
            self.compact()
        return len(rows)

    def rebuild(self, ids: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        """Replace the whole content, choosing the layout for the new size."""
        id_arr, code_arr = self._check(ids, hashes)
        self._layout = self._layout_for(len(id_arr))
        self._flat = self._empty_flat()
        self._mih = None
        self._ids, self._live, self._n_live = np.zeros(0, np.int64), np.zeros(0, bool), 0
        if self._layout == "flat":
            if len(id_arr):
                self._flat.add_with_ids(code_arr, id_arr)
            return
        self._mih = MultiIndexHash(self.bits, self._mih_layout_for(len(id_arr)))
        self._mih.build(code_arr)
        self._ids, self._live = id_arr, np.ones(len(id_arr), dtype=bool)
        self._n_live = len(id_arr)

    def compact(self) -> None:
        """Drop tombstoned entries physically (a rebuild of the live entries)."""
        if self._mih is not None and self._n_live < len(self._mih):
            self.rebuild(*self.entries())

    # --- search -------------------------------------------------------------------------

    def _queries(self, queries: npt.ArrayLike) -> Codes:
        q = np.ascontiguousarray(np.asarray(queries, dtype=np.uint8))
        if q.ndim == 1:
            q = q.reshape(1, -1)
        if q.shape[1] != self.bits // 8:
            raise ValueError(f"queries must have shape (n, {self.bits // 8})")
        return q

    def range_search(
        self, queries: npt.ArrayLike, radius: int, *, threads: int = 1
    ) -> SearchResult:
        """Every stored hash within Hamming distance ``<= radius`` of each query.

        ``threads > 1`` splits the queries of an MIH search into that many shards searched
        in parallel (numpy releases the GIL in its gathers and bitwise operations).
        """
        q = self._queries(queries)
        if len(self) == 0:
            return empty_result(len(q))
        if self._mih is None:
            lims, dist, ids = self._flat.range_search(q, int(radius) + 1)
            return sorted_result(
                np.asarray(lims, dtype=np.int64),
                np.asarray(ids, dtype=np.int64),
                np.asarray(dist, dtype=np.int32),
            )
        qidx, rows, dist = self._sharded(self._mih, q, int(radius), threads)
        return result_from_pairs(len(q), qidx, self._ids[rows], dist)

    def _sharded(
        self, mih: MultiIndexHash, q: Codes, radius: int, threads: int
    ) -> tuple[Ids, Ids, npt.NDArray[np.int32]]:
        live = self._live[: len(mih)]
        shards = max(1, min(threads, len(q) // 256))
        if shards == 1:
            return mih.range_search(q, radius, live)
        bounds = np.linspace(0, len(q), shards + 1).astype(int)
        with ThreadPoolExecutor(shards) as pool:
            parts = list(
                pool.map(
                    lambda span: mih.range_search(q[span[0] : span[1]], radius, live),
                    pairwise(bounds),
                )
            )
        return (
            np.concatenate([p[0] + lo for p, lo in zip(parts, bounds[:-1], strict=True)]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )

    def search(self, queries: npt.ArrayLike, k: int) -> SearchResult:
        """The ``k`` nearest stored hashes per query (exact for flat; for MIH the nearest
        among the candidates sharing a chunk with the query)."""
        q = self._queries(queries)
        if len(self) == 0 or k <= 0:
            return empty_result(len(q))
        if self._mih is not None:
            qidx, rows, dist = self._sharded(self._mih, q, self.bits, 1)
            result = result_from_pairs(len(q), qidx, self._ids[rows], dist)
            rank = np.arange(len(result.ids)) - np.repeat(result.lims[:-1], np.diff(result.lims))
            keep = rank < k
            counts = np.minimum(np.diff(result.lims), k)
            return SearchResult(
                np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                result.ids[keep],
                result.distances[keep],
            )
        fetch = min(int(self._flat.ntotal), k)
        dist, ids = self._flat.search(q, fetch)
        ids = np.asarray(ids, dtype=np.int64)
        dist = np.asarray(dist, dtype=np.int32)
        valid = ids >= 0
        counts = np.concatenate([[0], np.cumsum(valid.sum(axis=1))]).astype(np.int64)
        return sorted_result(counts, ids[valid], dist[valid])

    # --- persistence --------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` atomically (temporary file + fsync + rename)."""
        target = Path(path)
        meta = {
            "format": _FORMAT,
            "bits": self.bits,
            "kind": self.kind,
            "layout": self._layout,
            "mih_spec": self.mih_spec,
            "flat_max_size": self.flat_max_size,
            "mih_layout": None if self._mih is None else str(self._mih.layout),
        }
        arrays: dict[str, Any] = {}
        if self._mih is None:
            arrays["faiss"] = np.asarray(faiss.serialize_index_binary(self._flat), np.uint8)
        else:
            n = len(self._mih)
            arrays.update(
                self._mih.state(), ids=self._ids[:n], live=self._live[:n], codes=self._mih.codes
            )
        write_atomically(
            target,
            lambda fh: np.savez(
                fh, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays
            ),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BinaryHashIndex:
        """Read an index written by :meth:`save` (or a format-1 file of earlier versions)."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                arrays = {name: data[name] for name in data.files if name != "meta"}
        except (OSError, KeyError, ValueError) as exc:
            raise IndexFileError(f"cannot read binary index {path}: {exc}") from exc
        fmt = meta.get("format")
        if fmt == 1:
            return load_format1(cls, meta, arrays)
        if fmt != _FORMAT:
            raise IndexFileError(f"unknown binary index format {fmt!r}")
        self = cls(
            meta["bits"], meta["kind"], layout=meta["mih_spec"], flat_max_size=meta["flat_max_size"]
        )
        self._layout = meta["layout"]
        try:
            if self._layout == "flat":
                self._flat = faiss.deserialize_index_binary(arrays["faiss"])
                self._mih = None
            else:
                self._mih = MultiIndexHash.from_state(
                    self.bits, Layout.parse(meta["mih_layout"]), arrays["codes"], arrays
                )
                self._ids = np.asarray(arrays["ids"], dtype=np.int64)
                self._live = np.asarray(arrays["live"], dtype=bool)
                self._n_live = int(self._live.sum())
        except (KeyError, ValueError, RuntimeError) as exc:
            raise IndexFileError(f"cannot read binary index {path}: {exc}") from exc
        return self

    def nbytes(self) -> int:
        """Memory held by the index's arrays (flat: its serialised FAISS size)."""
        if self._mih is None:
            return len(faiss.serialize_index_binary(self._flat))
        return self._mih.nbytes() + self._ids.nbytes + self._live.nbytes
