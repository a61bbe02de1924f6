"""A typed FAISS index over 256-bit binary hashes (PDQ) with external int64 ids.

Two layouts, chosen by size (``kind="auto"``):

``flat``
    ``IndexBinaryFlat`` inside ``IndexBinaryIDMap2``: exhaustive, exact range and k-NN
    search; supports removal directly. Used up to :data:`FLAT_MAX_SIZE` hashes.
``mih``
    Multi-index hashing, ``IndexBinaryMultiHash`` inside ``IndexBinaryIDMap2``: the 256 bits
    are cut into ``nhash`` chunks of ``b`` bits, each a hash table; a stored hash is a
    candidate when one chunk equals the query's (``nflip=0``), and candidates are then
    checked at full Hamming distance. Sub-linear but approximate: a hash at distance ``d``
    is missed only when all ``nhash`` chunks differ. The default ``17 x 15`` was chosen by
    measurement (docs/benchmarks.md, "Copy search"): recall 0.998 at 1M and 0.991 at 10M
    hashes (radius 31, planted neighbours at uniform distance 0..31), about twice the
    lookups/s of ``18 x 14``; ``16 x 16`` is twice as fast again but drops to 0.985 at 10M.

``IndexBinaryMultiHash`` cannot remove entries, so :meth:`BinaryHashIndex.remove` keeps a
tombstone set for that layout, filters it at query time and drops it at the next
:meth:`BinaryHashIndex.compact` / :meth:`BinaryHashIndex.rebuild`. Re-adding a tombstoned
id compacts first.

Distances follow the PDQ convention "match when distance <= radius" (FAISS's own binary
range search is strict, ``< radius``; the wrapper adds one).

Persistence writes one ``.npz`` file (FAISS bytes from ``faiss.serialize_index_binary``,
tombstones, layout parameters) to a temporary file in the same directory and renames it
over the target, so a reader sees either the old or the new index, never a torn one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import faiss
import numpy as np
import numpy.typing as npt

IndexKind = Literal["auto", "flat", "mih"]

FLAT_MAX_SIZE: Final = 50_000
"""Above this many hashes ``kind="auto"`` switches from exact flat search to MIH."""
MIH_NHASH: Final = 17
MIH_BITS: Final = 15
_FORMAT: Final = 1

Ids = npt.NDArray[np.int64]
Codes = npt.NDArray[np.uint8]


class BinaryIndexError(Exception):
    """Base class for binary-index errors."""


class DuplicateIdError(BinaryIndexError):
    """An id given to :meth:`BinaryHashIndex.add` is already in the index."""


class IndexFileError(BinaryIndexError):
    """An index file is missing, unreadable or of an unknown format."""


@dataclass(frozen=True)
class SearchResult:
    """Results of a batched search in CSR form: query ``i`` owns ``lims[i]:lims[i+1]``.

    Within each query the hits are sorted by distance, then id.
    """

    lims: npt.NDArray[np.int64]
    ids: Ids
    distances: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.lims) - 1

    def hits(self, query: int) -> list[tuple[int, int]]:
        """``(id, distance)`` pairs for one query, nearest first."""
        lo, hi = int(self.lims[query]), int(self.lims[query + 1])
        return [(int(i), int(d)) for i, d in zip(self.ids[lo:hi], self.distances[lo:hi],
                                                   strict=True)]


class BinaryHashIndex:
    """Range and k-NN search over 256-bit hashes keyed by caller-chosen int64 ids."""

    def __init__(
        self,
        bits: int = 256,
        kind: IndexKind = "auto",
        *,
        nhash: int = MIH_NHASH,
        mih_bits: int = MIH_BITS,
        flat_max_size: int = FLAT_MAX_SIZE,
    ) -> None:
        if bits % 8:
            raise ValueError("bits must be a multiple of 8")
        self.bits = bits
        self.kind: IndexKind = kind
        self.nhash = nhash
        self.mih_bits = mih_bits
        self.flat_max_size = flat_max_size
        self._layout: Literal["flat", "mih"] = "mih" if kind == "mih" else "flat"
        self._index = self._empty(self._layout)
        self._tombstones: set[int] = set()

    # --- construction -------------------------------------------------------------------

    def _empty(self, layout: Literal["flat", "mih"]) -> Any:
        inner: Any
        if layout == "flat":
            inner = faiss.IndexBinaryFlat(self.bits)
        else:
            inner = faiss.IndexBinaryMultiHash(self.bits, self.nhash, self.mih_bits)
            inner.nflip = 0
        return faiss.IndexBinaryIDMap2(inner)

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
        return int(self._index.ntotal) - len(self._tombstones)

    @property
    def tombstones(self) -> frozenset[int]:
        """Ids removed from an MIH index but still physically present until compaction."""
        return frozenset(self._tombstones)

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

    def _stored_ids(self) -> Ids:
        n = int(self._index.ntotal)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return faiss.rev_swig_ptr(self._index.id_map.data(), n).view(np.int64)  # type: ignore[no-any-return]

    def _stored_codes(self) -> Codes:
        n = int(self._index.ntotal)
        inner: Any = faiss.downcast_IndexBinary(self._index.index)
        xb = inner.xb if self._layout == "flat" else inner.storage.xb
        if n == 0:
            return np.zeros((0, self.bits // 8), dtype=np.uint8)
        return faiss.rev_swig_ptr(xb.data(), n * (self.bits // 8)).reshape(n, -1)  # type: ignore[no-any-return]

    def entries(self) -> tuple[Ids, Codes]:
        """Copies of all live ``(ids, hashes)``, in insertion order."""
        ids, codes = self._stored_ids().copy(), self._stored_codes().copy()
        if self._tombstones:
            keep = ~np.isin(ids, np.fromiter(self._tombstones, dtype=np.int64))
            ids, codes = ids[keep], codes[keep]
        return ids, codes

    def add(self, ids: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        """Add hashes under new ids. Raises :class:`DuplicateIdError` if an id is live.

        The duplicate check scans the stored ids (linear in index size): add in batches.
        """
        id_arr, code_arr = self._check(ids, hashes)
        if len(id_arr) == 0:
            return
        if self._tombstones and not self._tombstones.isdisjoint(id_arr.tolist()):
            self.compact()
        clash = np.isin(id_arr, self._stored_ids())
        if clash.any():
            raise DuplicateIdError(f"ids already present: {id_arr[clash][:5].tolist()}")
        target = self._layout_for(len(self) + len(id_arr))
        if target != self._layout:
            old_ids, old_codes = self.entries()
            self.rebuild(np.concatenate([old_ids, id_arr]), np.concatenate([old_codes, code_arr]))
            return
        self._index.add_with_ids(code_arr, id_arr)

    def remove(self, ids: npt.ArrayLike) -> int:
        """Remove ids (unknown ids are ignored); returns how many live entries went away."""
        id_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        present = id_arr[np.isin(id_arr, self._stored_ids())]
        present = np.array([i for i in present.tolist() if i not in self._tombstones],
                           dtype=np.int64)
        if len(present) == 0:
            return 0
        if self._layout == "flat":
            return int(self._index.remove_ids(present))
        self._tombstones.update(present.tolist())
        return len(present)

    def rebuild(self, ids: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        """Replace the whole content, choosing the layout for the new size."""
        id_arr, code_arr = self._check(ids, hashes)
        self._layout = self._layout_for(len(id_arr))
        self._index = self._empty(self._layout)
        self._tombstones = set()
        if len(id_arr):
            self._index.add_with_ids(code_arr, id_arr)

    def compact(self) -> None:
        """Drop tombstoned entries physically (a rebuild of the live entries)."""
        if self._tombstones:
            self.rebuild(*self.entries())

    # --- search -------------------------------------------------------------------------

    def _queries(self, queries: npt.ArrayLike) -> Codes:
        q = np.ascontiguousarray(np.asarray(queries, dtype=np.uint8))
        if q.ndim == 1:
            q = q.reshape(1, -1)
        if q.shape[1] != self.bits // 8:
            raise ValueError(f"queries must have shape (n, {self.bits // 8})")
        return q

    def range_search(self, queries: npt.ArrayLike, radius: int) -> SearchResult:
        """Every stored hash within Hamming distance ``<= radius`` of each query."""
        q = self._queries(queries)
        if self._index.ntotal == 0:
            return _empty_result(len(q))
        lims, dist, ids = self._index.range_search(q, int(radius) + 1)
        return _sorted(np.asarray(lims, dtype=np.int64), np.asarray(ids, dtype=np.int64),
                       np.asarray(dist, dtype=np.int32), self._tombstones)

    def search(self, queries: npt.ArrayLike, k: int) -> SearchResult:
        """The ``k`` nearest stored hashes per query (exact for flat, approximate for MIH)."""
        q = self._queries(queries)
        live = len(self)
        if live == 0 or k <= 0:
            return _empty_result(len(q))
        fetch = min(int(self._index.ntotal), k + len(self._tombstones))
        dist, ids = self._index.search(q, fetch)
        ids = np.asarray(ids, dtype=np.int64)
        dist = np.asarray(dist, dtype=np.int32)
        counts = np.zeros(len(q) + 1, dtype=np.int64)
        keep_ids: list[Ids] = []
        keep_dist: list[npt.NDArray[np.int32]] = []
        dead = np.fromiter(self._tombstones, dtype=np.int64, count=len(self._tombstones))
        for row in range(len(q)):
            mask = (ids[row] >= 0) & ~np.isin(ids[row], dead)
            keep_ids.append(ids[row][mask][:k])
            keep_dist.append(dist[row][mask][:k])
            counts[row + 1] = len(keep_ids[-1])
        return _sorted(np.cumsum(counts), np.concatenate(keep_ids), np.concatenate(keep_dist),
                       set())

    # --- persistence --------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` atomically (temporary file + rename)."""
        target = Path(path)
        meta = {
            "format": _FORMAT, "bits": self.bits, "kind": self.kind, "layout": self._layout,
            "nhash": self.nhash, "mih_bits": self.mih_bits, "flat_max_size": self.flat_max_size,
        }
        blob = faiss.serialize_index_binary(self._index)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                    faiss=np.asarray(blob, dtype=np.uint8),
                    tombstones=np.array(sorted(self._tombstones), dtype=np.int64),
                )
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BinaryHashIndex:
        """Read an index written by :meth:`save`."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                blob = data["faiss"]
                tombstones = data["tombstones"].tolist()
        except (OSError, KeyError, ValueError) as exc:
            raise IndexFileError(f"cannot read binary index {path}: {exc}") from exc
        if meta.get("format") != _FORMAT:
            raise IndexFileError(f"unknown binary index format {meta.get('format')!r}")
        self = cls(meta["bits"], meta["kind"], nhash=meta["nhash"], mih_bits=meta["mih_bits"],
                   flat_max_size=meta["flat_max_size"])
        self._layout = meta["layout"]
        self._index = faiss.deserialize_index_binary(blob)
        self._tombstones = set(tombstones)
        return self

    def nbytes(self) -> int:
        """Size of the serialised FAISS index in bytes (a proxy for its memory)."""
        return len(faiss.serialize_index_binary(self._index))


def _empty_result(n: int) -> SearchResult:
    return SearchResult(np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64),
                        np.zeros(0, dtype=np.int32))


def _sorted(lims: npt.NDArray[np.int64], ids: Ids, dist: npt.NDArray[np.int32],
            dead: set[int]) -> SearchResult:
    """Sort each query's hits by (distance, id) and drop tombstoned ids."""
    nq = len(lims) - 1
    if dead and len(ids):
        keep = ~np.isin(ids, np.fromiter(dead, dtype=np.int64))
        qidx = np.repeat(np.arange(nq), np.diff(lims))[keep]
        ids, dist = ids[keep], dist[keep]
        lims = np.concatenate([[0], np.cumsum(np.bincount(qidx, minlength=nq))]).astype(np.int64)
    qidx = np.repeat(np.arange(nq), np.diff(lims))
    order = np.lexsort((ids, dist, qidx))
    return SearchResult(lims, ids[order], dist[order])
