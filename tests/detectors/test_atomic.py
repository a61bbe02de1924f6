"""Index files are replaced whole: a write that fails leaves the old file and no debris."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pytest

from detectors.atomic import write_atomically


def test_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "pdq.1.index"
    target.write_bytes(b"old")
    write_atomically(target, lambda fh: fh.write(b"new contents"))
    assert target.read_bytes() == b"new contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pdq.1.index"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")

    def half_then_fail(fh: BinaryIO) -> None:
        fh.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
