"""Reading format-1 binary index files (FAISS ``IndexBinaryIDMap2`` of earlier versions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from detectors.copy.binary_results import IndexFileError

if TYPE_CHECKING:
    from detectors.copy.binary_index import BinaryHashIndex


def load_format1(
    cls: type[BinaryHashIndex], meta: dict[str, Any], arrays: dict[str, Any]
) -> BinaryHashIndex:
    """Re-index the live entries of a format-1 file (FAISS ``IndexBinaryIDMap2``)."""
    try:
        old: Any = faiss.deserialize_index_binary(arrays["faiss"])
        n = int(old.ntotal)
        inner: Any = faiss.downcast_IndexBinary(old.index)
        xb = inner.xb if meta["layout"] == "flat" else inner.storage.xb
        width = meta["bits"] // 8
        ids = (
            faiss.rev_swig_ptr(old.id_map.data(), n).view(np.int64).copy()
            if n
            else np.zeros(0, dtype=np.int64)
        )
        codes = (
            faiss.rev_swig_ptr(xb.data(), n * width).reshape(n, width).copy()
            if n
            else np.zeros((0, width), dtype=np.uint8)
        )
    except (KeyError, RuntimeError, AttributeError) as exc:
        raise IndexFileError(f"cannot read format-1 binary index: {exc}") from exc
    keep = ~np.isin(ids, np.asarray(arrays.get("tombstones", []), dtype=np.int64))
    index = cls(meta["bits"], meta["kind"], flat_max_size=meta["flat_max_size"])
    index.rebuild(ids[keep], codes[keep])
    return index
