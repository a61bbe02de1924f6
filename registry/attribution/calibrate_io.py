"""Read the held-out folders ``provreg generator calibrate`` takes (every file or a typed error)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry.attribution.errors import EnrolmentRefusedError


def _read(folder: Path) -> list[Any]:
    from detectors.attribution.errors import EnrolmentError
    from detectors.attribution.images import read_folder

    try:
        return read_folder(folder, minimum=1)
    except EnrolmentError as exc:
        raise EnrolmentRefusedError(f"{folder}: {exc}") from exc


def read_known(folder: Path) -> dict[str, list[Any]]:
    """``{generator: images}`` from one subfolder per enrolled generator."""
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir())
    if not subfolders:
        raise EnrolmentRefusedError(f"{folder} has no subfolders (one per enrolled generator)")
    return {p.name: _read(p) for p in subfolders}


def read_unknown(folder: Path) -> list[Any]:
    """Images of ``folder`` and its direct subfolders."""
    from detectors.attribution.images import image_files

    out: list[Any] = []
    for sub in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
        if image_files(sub):
            out += _read(sub)
    if not out:
        raise EnrolmentRefusedError(f"{folder} holds no images of unenrolled generators")
    return out
