"""A typed FAISS index over L2-normalised float vectors (inner product = cosine).

Layout by size (``kind="auto"``): exact ``IndexFlatIP`` up to :data:`FLAT_MAX_SIZE`
vectors, ``IndexHNSWFlat`` (inner-product metric, M=32) above; both inside
``IndexIDMap2`` for external int64 ids. HNSW cannot remove, so removals there are
tombstones filtered at query time until :meth:`VectorIndex.compact`.

When FAISS was built with GPU support and ``faiss.get_num_gpus() > 0``, the flat layout is
searched on a GPU copy (``index_cpu_to_gpu``); anything that fails there falls back to the
CPU index, which stays the source of truth and is what gets serialised.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final, Literal

import faiss
import numpy as np
import numpy.typing as npt

from detectors.atomic import write_atomically
from detectors.copy.binary_index import DuplicateIdError, IndexFileError, SearchResult

FLAT_MAX_SIZE: Final = 100_000
HNSW_M: Final = 32
_FORMAT: Final = 1

VectorKind = Literal["auto", "flat", "hnsw"]


def gpu_available() -> bool:
    """Whether this FAISS build has GPU support and sees at least one GPU."""
    try:
        return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    except Exception:
        return False


class VectorIndex:
    """k-NN search by inner product over unit vectors keyed by int64 ids."""

    def __init__(
        self,
        dim: int,
        kind: VectorKind = "auto",
        *,
        flat_max_size: int = FLAT_MAX_SIZE,
        use_gpu: bool = True,
    ) -> None:
        self.dim = dim
        self.kind: VectorKind = kind
        self.flat_max_size = flat_max_size
        self.use_gpu = use_gpu
        self._layout: Literal["flat", "hnsw"] = "hnsw" if kind == "hnsw" else "flat"
        self._index: Any = self._empty(self._layout)
        self._tombstones: set[int] = set()
        self._gpu: Any = None

    def _empty(self, layout: Literal["flat", "hnsw"]) -> Any:
        inner: Any = (
            faiss.IndexFlatIP(self.dim)
            if layout == "flat"
            else faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        )
        return faiss.IndexIDMap2(inner)

    @property
    def layout(self) -> Literal["flat", "hnsw"]:
        """The layout in use now."""
        return self._layout

    def __len__(self) -> int:
        return int(self._index.ntotal) - len(self._tombstones)

    def _stored_ids(self) -> npt.NDArray[np.int64]:
        n = int(self._index.ntotal)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return faiss.rev_swig_ptr(self._index.id_map.data(), n).view(np.int64)  # type: ignore[no-any-return]

    def entries(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Copies of all live ``(ids, vectors)``."""
        ids = self._stored_ids().copy()
        live = [i for i in ids.tolist() if i not in self._tombstones]
        vectors = (
            np.stack([self._index.reconstruct(i) for i in live])
            if live
            else np.zeros((0, self.dim), dtype=np.float32)
        )
        return np.array(live, dtype=np.int64), vectors.astype(np.float32)

    def _check(
        self, ids: npt.ArrayLike, vectors: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        id_arr = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))
        vec = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if vec.ndim != 2 or vec.shape[1] != self.dim or len(vec) != len(id_arr):
            raise ValueError(f"need (n, {self.dim}) vectors and n ids")
        if len(np.unique(id_arr)) != len(id_arr):
            raise DuplicateIdError("ids repeat within one call")
        return id_arr, vec

    def add(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        """Add vectors under new ids; :class:`DuplicateIdError` if an id is live."""
        id_arr, vec = self._check(ids, vectors)
        if len(id_arr) == 0:
            return
        if self._tombstones and not self._tombstones.isdisjoint(id_arr.tolist()):
            self.compact()
        if np.isin(id_arr, self._stored_ids()).any():
            raise DuplicateIdError("ids already present")
        wanted = self._layout_for(len(self) + len(id_arr))
        if wanted != self._layout:
            old_ids, old_vec = self.entries()
            self.rebuild(np.concatenate([old_ids, id_arr]), np.concatenate([old_vec, vec]))
            return
        self._index.add_with_ids(vec, id_arr)
        self._gpu = None

    def _layout_for(self, size: int) -> Literal["flat", "hnsw"]:
        if self.kind == "auto":
            return "flat" if size <= self.flat_max_size else "hnsw"
        return self.kind

    def remove(self, ids: npt.ArrayLike) -> int:
        """Remove ids (unknown ones ignored); returns how many live entries went away."""
        id_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        present = [
            i
            for i in id_arr[np.isin(id_arr, self._stored_ids())].tolist()
            if i not in self._tombstones
        ]
        if not present:
            return 0
        self._gpu = None
        if self._layout == "flat":
            return int(self._index.remove_ids(np.array(present, dtype=np.int64)))
        self._tombstones.update(present)
        return len(present)

    def rebuild(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        """Replace the whole content, choosing the layout for the new size."""
        id_arr, vec = self._check(ids, vectors)
        self._layout = self._layout_for(len(id_arr))
        self._index = self._empty(self._layout)
        self._tombstones = set()
        self._gpu = None
        if len(id_arr):
            self._index.add_with_ids(vec, id_arr)

    def compact(self) -> None:
        """Drop tombstoned entries physically."""
        if self._tombstones:
            self.rebuild(*self.entries())

    def _searcher(self) -> Any:
        if self._layout != "flat" or not self.use_gpu or not gpu_available():
            return self._index
        if self._gpu is None:
            try:
                self._gpu = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, self._index)
            except Exception:
                self.use_gpu = False
                return self._index
        return self._gpu

    def search(self, queries: npt.ArrayLike, k: int) -> SearchResult:
        """The ``k`` most similar vectors per query; ``distances`` holds ``-similarity``
        scaled by 1e6 and rounded (so nearest-first sorting matches the binary index);
        use :meth:`similarities` for the float values."""
        ids, sims = self.similarities(queries, k)
        counts = (ids >= 0).sum(axis=1)
        lims = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return SearchResult(lims, ids[ids >= 0], np.round(-sims[ids >= 0] * 1e6).astype(np.int32))

    def similarities(
        self, queries: npt.ArrayLike, k: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """``(ids, similarities)`` arrays of shape ``(nq, k)``, best first; id -1 pads."""
        q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32)).reshape(-1, self.dim)
        out_ids = np.full((len(q), max(k, 0)), -1, dtype=np.int64)
        out_sim = np.zeros((len(q), max(k, 0)), dtype=np.float32)
        if len(self) == 0 or k <= 0:
            return out_ids, out_sim
        fetch = min(int(self._index.ntotal), k + len(self._tombstones))
        sims, ids = self._searcher().search(q, fetch)
        for row in range(len(q)):
            keep = [
                (i, s)
                for i, s in zip(ids[row].tolist(), sims[row].tolist(), strict=True)
                if i >= 0 and i not in self._tombstones
            ][:k]
            for col, (i, s) in enumerate(keep):
                out_ids[row, col], out_sim[row, col] = i, s
        return out_ids, out_sim

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (temporary file + rename); always the CPU index."""
        target = Path(path)
        meta = {
            "format": _FORMAT,
            "dim": self.dim,
            "kind": self.kind,
            "layout": self._layout,
            "flat_max_size": self.flat_max_size,
        }
        write_atomically(
            target,
            lambda fh: np.savez(
                fh,
                meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                faiss=np.asarray(faiss.serialize_index(self._index), dtype=np.uint8),
                tombstones=np.array(sorted(self._tombstones), dtype=np.int64),
            ),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, use_gpu: bool = True) -> VectorIndex:
        """Read an index written by :meth:`save`."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                blob, tombstones = data["faiss"], data["tombstones"].tolist()
        except (OSError, KeyError, ValueError) as exc:
            raise IndexFileError(f"cannot read vector index {path}: {exc}") from exc
        if meta.get("format") != _FORMAT:
            raise IndexFileError(f"unknown vector index format {meta.get('format')!r}")
        self = cls(meta["dim"], meta["kind"], flat_max_size=meta["flat_max_size"], use_gpu=use_gpu)
        self._layout = meta["layout"]
        self._index = faiss.deserialize_index(blob)
        self._tombstones = set(tombstones)
        return self
