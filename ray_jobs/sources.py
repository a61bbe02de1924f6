"""Where a re-scan finds its items: the ledger's assets, a folder, or an object-store URI.

URIs go through pyarrow filesystems (``file://``, ``s3://``, ``gs://``, ``hdfs://`` …, as
far as the installed pyarrow supports them), so an archive in a bucket is read the same way
as a local folder. Reads stop one byte past the intake limit, like ``intake_path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyarrow import fs as pafs
from sqlalchemy.orm import Session, sessionmaker

from registry.intake.pipeline import (
    IntakeLimits,
    IntakeResult,
    intake_bytes,
    intake_path,
    iter_media_paths,
)
from registry.intake.sniff import OCTET_STREAM
from registry.queries.assets import stored_locations

ARCHIVE = "archive"


@dataclass(frozen=True)
class Item:
    """One thing to re-scan. ``key`` names it in the progress table."""

    key: str
    location: str


def is_uri(location: str) -> bool:
    """Whether ``location`` names an object-store style URI rather than a local path."""
    return "://" in location


def archive_items(sessions: sessionmaker[Session], page: int = 10_000) -> Iterator[Item]:
    """Every asset in the ledger that has a stored location or is kept in the media store,
    in content-address order (the re-scan reads the store first: registry.media).

    Read a page at a time by keyset (``sha256 > last``), each page in its own short
    transaction: a re-scan of millions of assets holds neither a snapshot nor the list open.
    """
    last = ""
    while True:
        with sessions() as session:
            rows = stored_locations(session, after=last, limit=page)
        for sha256, location in rows:
            yield Item(f"sha256:{sha256}", location)
        if len(rows) < page:
            return
        last = rows[-1][0]


def folder_items(folder: Path) -> Iterator[Item]:
    """Files under a local folder (or one file), as ``provreg ingest`` walks them."""
    for path in iter_media_paths([folder]):
        yield Item(str(path), str(path))


def uri_items(uri: str) -> Iterator[Item]:
    """Files under an object-store URI, recursively, skipping hidden names, sorted."""
    filesystem, base = pafs.FileSystem.from_uri(uri)
    scheme = uri.split("://", 1)[0]
    info = filesystem.get_file_info(base)
    if info.type == pafs.FileType.File:
        infos = [info]
    else:
        infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=True))
    for entry in sorted(infos, key=lambda i: i.path):
        if entry.type != pafs.FileType.File:
            continue
        if any(part.startswith(".") for part in entry.path[len(base) :].split("/")):
            continue
        location = f"{scheme}://{entry.path}"
        yield Item(location, location)


def items_for(sessions: sessionmaker[Session], source: str) -> Iterator[Item]:
    """Items of ``source``, lazily: ``archive``, a local path, or a URI."""
    if source == ARCHIVE:
        return archive_items(sessions)
    if is_uri(source):
        return uri_items(source)
    return folder_items(Path(source))


def read_item(location: str, limits: IntakeLimits) -> IntakeResult:
    """Intake of the content at ``location`` (a path or a URI); failures are results."""
    if not is_uri(location):
        return intake_path(Path(location), limits)
    try:
        filesystem, path = pafs.FileSystem.from_uri(location)
        with filesystem.open_input_stream(path) as stream:
            data = stream.read(limits.max_bytes + 1)
    except (OSError, ValueError) as exc:
        return IntakeResult(
            location, "", 0, OCTET_STREAM, error="unreadable", error_detail=str(exc)[:300]
        )
    if len(data) > limits.max_bytes:
        return IntakeResult(
            location,
            "",
            len(data),
            OCTET_STREAM,
            error="too-large",
            error_detail=f"over the limit of {limits.max_bytes} bytes",
        )
    return intake_bytes(data, limits, path=location)
