"""An append-only log of reference-set changes (the delta beside a base snapshot).

Each :meth:`ReferenceSet.save <detectors.copy.matcher.ReferenceSet.save>` that does not
compact appends one :class:`Commit`: the operations of that save (adds with their hashes,
embeddings and SIFT features; removals; configuration), so a bank change costs a write of
its own size instead of a rewrite of every index file.

A record is ``magic (4 bytes) | payload length (uint32) | CRC-32 of payload (uint32) |
payload`` where the payload is an uncompressed ``.npz`` (a JSON ``meta`` array plus numeric
arrays, no pickles). :func:`read` stops at the first record that is incomplete or fails its
checksum: a torn tail (a crash or a concurrent reader catching a writer mid-append) is
ignored, not fatal, and :func:`append` truncates it away before writing the next record.
Appends are fsynced before :func:`append` returns.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

MAGIC: Final = b"PRJ1"
_HEADER: Final = struct.Struct("<4sII")


class JournalError(Exception):
    """A journal record could not be written."""


@dataclass
class Commit:
    """One save's worth of operations, in order."""

    revision: int
    ops: list[dict[str, Any]]
    arrays: dict[str, npt.NDArray[Any]] = field(default_factory=dict)


def encode(commit: Commit) -> bytes:
    """The framed record for ``commit``."""
    buffer = io.BytesIO()
    meta = json.dumps({"revision": commit.revision, "ops": commit.ops}).encode()
    arrays: dict[str, Any] = dict(commit.arrays)
    np.savez(buffer, meta=np.frombuffer(meta, dtype=np.uint8), **arrays)
    payload = buffer.getvalue()
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _decode(payload: bytes) -> Commit:
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        arrays = {name: data[name] for name in data.files if name != "meta"}
    return Commit(int(meta["revision"]), list(meta["ops"]), arrays)


def read(path: Path, offset: int = 0) -> tuple[list[Commit], int]:
    """Commits from byte ``offset`` on, and the offset just past the last valid one.

    A missing file reads as empty. Reading stops at a torn or corrupt record.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    commits: list[Commit] = []
    pos = 0
    while pos + _HEADER.size <= len(data):
        magic, length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if magic != MAGIC or end > len(data):
            break
        payload = data[pos + _HEADER.size : end]
        if zlib.crc32(payload) != crc:
            break
        try:
            commits.append(_decode(payload))
        except (OSError, ValueError, KeyError, TypeError):
            break
        pos = end
    return commits, offset + pos


def append(path: Path, record: bytes, valid_end: int) -> int:
    """Write ``record`` at ``valid_end`` (dropping anything after it: a torn tail), fsync,
    and return the new end offset."""
    created = not path.exists()
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.ftruncate(fd, valid_end)
            os.lseek(fd, valid_end, os.SEEK_SET)
            view = memoryview(record)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(path.parent)
    except OSError as exc:
        raise JournalError(f"cannot append to {path}: {exc}") from exc
    return valid_end + len(record)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
