"""SIFT features of references, kept on disk and read only for verified candidates.

Geometric verification needs a reference's keypoints and descriptors only when it is a
candidate (at most ``max_verify`` per query), yet holding them in memory cost about 136 KB per
reference (1000 keypoints x 128 uint8 + points). A :class:`FeatureStore` keeps the base
generation's features in two ``.npy`` files opened with ``mmap_mode="r"`` — all references'
points (float32, ``(rows, 2)``) and descriptors (uint8, ``(rows, 128)``), row-aligned — plus a
small ``.npz`` index (sorted ids, row offsets, whether descriptors exist). Features added since
the base (replayed from the delta log) live in an in-memory overlay until the next
compaction writes a new base.

Files: ``features.<gen>.npz`` (the index), ``fpoints.<gen>.npy``, ``fdesc.<gen>.npy``; each is
written to a temporary name, fsynced and renamed. A base written by earlier versions (one
compressed ``features.<gen>.npz`` holding everything) is read into the overlay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from detectors.atomic import write_atomically
from detectors.copy.verification import Features

DESC_DIM: Final = 128


class FeatureStoreError(Exception):
    """A features file is missing or unreadable."""


class FeatureStore:
    """Features by reference id: a memory-mapped base plus an in-memory overlay."""

    def __init__(self) -> None:
        self._ids = np.zeros(0, dtype=np.int64)
        self._offsets = np.zeros(1, dtype=np.int64)
        self._has_desc = np.zeros(0, dtype=bool)
        self._points: npt.NDArray[np.float32] = np.zeros((0, 2), dtype=np.float32)
        self._desc: npt.NDArray[np.uint8] = np.zeros((0, DESC_DIM), dtype=np.uint8)
        self._overlay: dict[int, Features] = {}
        self._removed: set[int] = set()

    def _base_index(self, ref_id: int) -> int | None:
        i = int(np.searchsorted(self._ids, ref_id))
        if i < len(self._ids) and int(self._ids[i]) == ref_id and ref_id not in self._removed:
            return i
        return None

    def get(self, ref_id: int) -> Features | None:
        """The features of ``ref_id`` (read from disk for base entries), or None."""
        if ref_id in self._overlay:
            return self._overlay[ref_id]
        i = self._base_index(ref_id)
        if i is None:
            return None
        lo, hi = int(self._offsets[i]), int(self._offsets[i + 1])
        points = np.array(self._points[lo:hi])
        return Features(points, np.array(self._desc[lo:hi]) if self._has_desc[i] else None)

    def put(self, ref_id: int, features: Features) -> None:
        """Set the features of ``ref_id`` (held in memory until the next :meth:`save`)."""
        self._overlay[ref_id] = features
        self._removed.discard(ref_id)

    def pop(self, ref_id: int) -> None:
        """Forget ``ref_id`` (no error if unknown)."""
        self._overlay.pop(ref_id, None)
        if self._base_index(ref_id) is not None:
            self._removed.add(ref_id)

    def ids(self) -> list[int]:
        """Every id with features, sorted."""
        base = [i for i in self._ids.tolist() if i not in self._removed]
        return sorted(set(base) | set(self._overlay))

    def resident_bytes(self) -> int:
        """Bytes of features held in memory (the overlay; the base is memory-mapped)."""
        return sum(
            f.points.nbytes + (0 if f.descriptors is None else f.descriptors.nbytes)
            for f in self._overlay.values()
        )

    # --- persistence --------------------------------------------------------------------

    def save(self, root: Path, generation: int) -> dict[str, str]:
        """Write every live entry as generation ``generation``; returns the file names."""
        files = {
            "features": f"features.{generation}.npz",
            "fpoints": f"fpoints.{generation}.npy",
            "fdesc": f"fdesc.{generation}.npy",
        }
        ids = self.ids()
        entries = [(i, self.get(i)) for i in ids]
        counts = np.array([len(f.points) if f else 0 for _, f in entries], dtype=np.int64)
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        has_desc = np.array(
            [f is not None and f.descriptors is not None for _, f in entries], dtype=bool
        )
        total = int(offsets[-1])
        points = np.zeros((total, 2), dtype=np.float32)
        desc = np.zeros((total, DESC_DIM), dtype=np.uint8)
        for row, (_, feats) in enumerate(entries):
            lo, hi = int(offsets[row]), int(offsets[row + 1])
            if feats is not None and hi > lo:
                points[lo:hi] = feats.points
                if feats.descriptors is not None:
                    desc[lo:hi] = feats.descriptors
        write_atomically(root / files["fpoints"], lambda fh: np.save(fh, points))
        write_atomically(root / files["fdesc"], lambda fh: np.save(fh, desc))
        write_atomically(
            root / files["features"],
            lambda fh: np.savez(
                fh, ids=np.array(ids, dtype=np.int64), offsets=offsets, has_desc=has_desc
            ),
        )
        return files

    @classmethod
    def load(cls, root: Path, files: dict[str, str]) -> FeatureStore:
        """Open a base written by :meth:`save` (or an earlier single-file one)."""
        self = cls()
        try:
            with np.load(root / files["features"], allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            if "fdesc" not in files:
                self._overlay = _legacy(arrays)
                return self
            self._ids = arrays["ids"].astype(np.int64)
            self._offsets = arrays["offsets"].astype(np.int64)
            self._has_desc = arrays["has_desc"].astype(bool)
            total = int(self._offsets[-1])
            mode: Any = "r" if total else None  # an empty file cannot be memory-mapped
            self._points = np.load(root / files["fpoints"], mmap_mode=mode, allow_pickle=False)
            self._desc = np.load(root / files["fdesc"], mmap_mode=mode, allow_pickle=False)
        except (OSError, KeyError, ValueError) as exc:
            raise FeatureStoreError(f"cannot read features in {root}: {exc}") from exc
        if (
            self._points.shape != (total, 2)
            or self._desc.shape != (total, DESC_DIM)
            or len(self._offsets) != len(self._ids) + 1
        ):
            raise FeatureStoreError(f"features in {root} do not match their index")
        return self


def _legacy(arrays: dict[str, Any]) -> dict[int, Features]:
    """Entries of a format-1 features file (ids, counts, points, descriptors; compressed)."""
    out: dict[int, Features] = {}
    offsets = np.concatenate([[0], np.cumsum(arrays["counts"])])
    points, descriptors = arrays["points"], arrays["descriptors"].astype(np.uint8)
    for i, ref_id in enumerate(arrays["ids"].tolist()):
        lo, hi = int(offsets[i]), int(offsets[i + 1])
        out[ref_id] = Features(
            points[lo:hi].astype(np.float32), descriptors[lo:hi] if hi > lo else None
        )
    return out
