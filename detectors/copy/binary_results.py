"""What a binary-hash index answers and raises: batched search results in CSR form, sorted
per query by (distance, id), and the index's errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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
        return [
            (int(i), int(d)) for i, d in zip(self.ids[lo:hi], self.distances[lo:hi], strict=True)
        ]


def empty_result(n: int) -> SearchResult:
    """A result with no hits for ``n`` queries."""
    return SearchResult(
        np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    )


def result_from_pairs(nq: int, qidx: Ids, ids: Ids, dist: npt.NDArray[np.int32]) -> SearchResult:
    """A result from unordered ``(query, id, distance)`` triples."""
    lims = np.zeros(nq + 1, dtype=np.int64)
    np.cumsum(np.bincount(qidx, minlength=nq), out=lims[1:])
    order = np.lexsort((ids, dist, qidx))
    return SearchResult(lims, ids[order], dist[order].astype(np.int32))


def sorted_result(
    lims: npt.NDArray[np.int64], ids: Ids, dist: npt.NDArray[np.int32]
) -> SearchResult:
    """Sort each query's hits by (distance, id)."""
    qidx = np.repeat(np.arange(len(lims) - 1), np.diff(lims))
    order = np.lexsort((ids, dist, qidx))
    return SearchResult(lims, ids[order], dist[order])
