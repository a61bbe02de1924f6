"""The paths an ingest takes in: folders walked deterministically, and names that are not
UTF-8 kept lossless in memory with their printed and stored forms."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from detectors.model import is_model_folder
from registry.errors import IntakeError


def iter_media_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Every path named directly, and every entry under folders, in a deterministic order.

    Folders are walked recursively in sorted order. A symbolic link to a folder is never
    followed, even when named directly: it is yielded itself and gets its own
    ``not-a-regular-file`` line (no loops, no escaping the tree, and walking the walk's own
    output yields it unchanged, which the executors rely on). Nothing is skipped or dropped:
    hidden files and folders are walked and ingested like any other; FIFOs, devices,
    sockets and dangling or looping links are yielded so that :func:`intake_path` gives
    each its own ``not-a-regular-file`` line; so is a folder that cannot be listed
    (detail: "a folder that cannot be listed"). Names that are not UTF-8 stay lossless in memory
    (``surrogateescape``; see :func:`path_text` and :func:`path_bytes_hex` for their
    stored and printed forms). Only a path named directly that does not exist at all (not
    even as a dangling link) raises ``IntakeError("not-found")``.
    """
    for path in paths:
        if not os.path.lexists(path):
            raise IntakeError("not-found", path_text(str(path)))
        if os.path.isdir(path) and not os.path.islink(path) and not is_model_folder(path):
            yield from _walk(path)
        else:
            yield path


def _walk(folder: Path) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: os.fsencode(entry.name))
    except OSError:
        yield folder  # cannot be listed: one line for the folder, and the walk goes on
        return
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir and not is_model_folder(Path(entry.path)):  # a model folder is one asset
            yield from _walk(Path(entry.path))
        else:
            yield Path(entry.path)


def path_text(path: str) -> str:
    """A path as text that any database, terminal or JSON encoder accepts.

    Valid UTF-8 names are unchanged; in a name that is not (kept in memory with
    ``surrogateescape``), each undecodable byte becomes U+FFFD. This form is for display
    and for the ``path`` field; :func:`path_bytes_hex` keeps the exact bytes beside it.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "replace")
    return path


def path_bytes_hex(path: str) -> str | None:
    """The exact bytes of a name that is not valid UTF-8, in hex; ``None`` for UTF-8 names."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).hex()
    return None


def path_location(path: str) -> str:
    """The lossless text stored as a sighting's ``location``: the name itself when it is
    UTF-8, else each undecodable byte escaped as ``\\xNN`` (as ``ls -b`` writes it)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return path
