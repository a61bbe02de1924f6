"""Hardened media intake: bytes → content address → sniffed type → bounded, safe decode.

Every input, however hostile, comes back as an :class:`IntakeResult`; bad content is an
``error`` reason from :data:`ERROR_REASONS`, never an exception. The steps, cheapest first:

1. ``stat`` first: anything but a regular file is ``not-a-regular-file`` and is never opened;
   size: ``empty`` or ``too-large`` (decided from ``stat``: a file over the limit is read
   only far enough to sniff its type, and is not hashed);
2. content address (SHA-256) and the real type sniffed from magic bytes
   (:mod:`registry.intake.sniff`) — the file name never decides anything;
3. container framing checked on the raw bytes (:mod:`registry.intake.structure`), leniently
   (an anomaly libpng tolerates is recorded, not fatal; walks are capped): PNG chunk
   CRCs and ``IEND``, GIF blocks and a frame count that stops past ``max_frames``, JPEG
   markers up to ``EOI``, the RIFF size — so truncation is an error even if some other
   library switched on Pillow's ``LOAD_TRUNCATED_IMAGES``;
4. Pillow opens the header only, restricted to the sniffed format; declared dimensions are
   checked against the limits before a pixel is allocated, frames are counted cheaply;
5. the first frame is decoded with Pillow's decompression-bomb warning raised as an error,
   and EXIF orientation is applied.

``warnings.catch_warnings`` mutates the interpreter's warning filters, so decode one image
per thread at a time (Ray actors and worker processes each have their own interpreter).

:func:`intake_bytes` is the one place content is sniffed and dispatched; steps 4 and 5 live in
:mod:`registry.intake.decode`, the walk of folders and the forms of non-UTF-8 names in
:mod:`registry.intake.paths` (re-exported here).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from detectors.base import Sample
from detectors.model import MODEL_TYPES, is_model_folder
from registry.errors import ConfigurationError, IntakeError
from registry.intake.decode import check_dimensions, decode_first_frame, pillow_supports
from registry.intake.paths import iter_media_paths, path_bytes_hex, path_location, path_text
from registry.intake.sniff import DECODABLE, OCTET_STREAM, is_image_type, sniff
from registry.intake.structure import MAX_CHUNKS, Framing, check_structure

__all__ = [
    "ERROR_REASONS",
    "IntakeLimits",
    "IntakeResult",
    "intake_batches",
    "intake_bytes",
    "intake_path",
    "iter_media_paths",
    "path_bytes_hex",
    "path_location",
    "path_text",
]

#: The documented error reasons an :class:`IntakeResult` may carry.
ERROR_REASONS: Final = frozenset(
    {
        "empty",
        "truncated",
        "not-an-image",
        "decompression-bomb",
        "too-large",
        "too-many-frames",
        "unsupported-format",
        "corrupt",
        "unreadable",
        "not-a-regular-file",
        "too-many-chunks",
        "unsafe-pickle",
        "non-finite-weights",  # model files (registry/lineage/intake.py)
    }
)

_SNIFF_BYTES: Final = 4096


@dataclass(frozen=True)
class IntakeLimits:
    """Bounds on what intake accepts; anything beyond them is an error, not a slow decode."""

    max_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 64_000_000
    max_frames: int = 200
    max_dimension: int = 30_000
    #: PNG chunks or GIF blocks walked before a file is ``too-many-chunks``.
    max_chunks: int = MAX_CHUNKS
    #: Decoded pixels (width x height summed over files) one batch may hold; a batch is cut
    #: early when the next file would pass it. 128 M pixels is about 0.5 GB of RGBA plus the
    #: detectors' working copies, which keeps one batch per core well inside a 2-core, 24 GB
    #: machine (16 images of 7999 x 7999 make 8 batches of two, not one of 16).
    max_batch_pixels: int = 128_000_000

    def __post_init__(self) -> None:
        for name in (
            "max_bytes",
            "max_pixels",
            "max_frames",
            "max_dimension",
            "max_chunks",
            "max_batch_pixels",
        ):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"IntakeLimits.{name} must be at least 1")


@dataclass(frozen=True)
class IntakeResult:
    """The outcome of taking in one item.

    ``sha256`` is empty only when the content was never read whole (``unreadable``, or a
    file found ``too-large`` from its size). ``sample`` is present exactly when ``ok``.
    """

    path: str | None
    sha256: str
    size_bytes: int
    media_type: str
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    sample: Sample | None = None
    error: str | None = None
    error_detail: str | None = None
    #: Structural oddities tolerated while decoding (see registry/intake/structure.py).
    anomalies: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the item decoded and carries a :class:`Sample`."""
        return self.error is None


def intake_bytes(
    data: bytes,
    limits: IntakeLimits,
    *,
    path: str | None = None,
    source: str | None = None,
) -> IntakeResult:
    """Address, sniff and safely decode ``data``; bad content yields an error result."""
    size = len(data)
    sha256 = hashlib.sha256(data).hexdigest()
    media_type = sniff(data[:_SNIFF_BYTES]) if data else OCTET_STREAM

    def failure(reason: str, detail: str, framing: Framing | None = None) -> IntakeResult:
        framing = framing or Framing()
        return IntakeResult(
            path=path,
            sha256=sha256,
            size_bytes=size,
            media_type=media_type,
            width=framing.width,
            height=framing.height,
            error=reason,
            error_detail=detail,
        )

    if size == 0:
        return failure("empty", "zero bytes")
    if size > limits.max_bytes:
        return failure("too-large", f"{size} bytes is over the limit of {limits.max_bytes}")
    if media_type in MODEL_TYPES:  # model files are parsed by detectors/model, never decoded
        from registry.lineage.intake import model_result

        return model_result(data, media_type, sha256=sha256, path=path, source=source)
    if not is_image_type(media_type):
        return failure("not-an-image", f"content is {media_type}")
    pillow_format = DECODABLE.get(media_type)
    if pillow_format is None or not pillow_supports(pillow_format):
        return failure("unsupported-format", f"{media_type} is recognised but not decodable")
    framing = Framing()
    try:
        framing = check_structure(media_type, data, limits.max_frames, limits.max_chunks)
        if framing.width is not None and framing.height is not None:
            check_dimensions(framing.width, framing.height, limits)
        decodable = data if framing.decode_data is None else framing.decode_data
        image, frames = decode_first_frame(decodable, pillow_format, framing, limits)
    except IntakeError as exc:
        return failure(exc.reason, exc.detail, framing)
    sample = Sample(
        sha256=sha256,
        data=data,
        media_type=media_type,
        image=image,
        source=source,
        anomalies=framing.anomalies,
    )
    return IntakeResult(
        path=path,
        sha256=sha256,
        size_bytes=size,
        media_type=media_type,
        width=image.width,
        height=image.height,
        frames=frames,
        sample=sample,
        anomalies=framing.anomalies,
    )


def intake_path(path: Path, limits: IntakeLimits, *, source: str | None = None) -> IntakeResult:
    """Take in the file at ``path``, deciding from ``stat`` before reading a byte.

    Anything but a regular file (a FIFO, a device, a socket, a folder, a dangling or looping
    symbolic link) is ``not-a-regular-file`` and is never opened: opening a FIFO blocks and
    opening a device may act on it. A file over ``max_bytes`` by its size is ``too-large``
    after reading only enough to sniff its type; it is not hashed (an 8 GiB sparse file
    would cost a full read), so that line has no content address and leaves nothing in the
    ledger, like ``unreadable``. Otherwise at most ``max_bytes + 1`` bytes are read.
    """
    name = str(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        if os.path.islink(path):
            return _not_regular(name, _link_problem(exc))
        return _unreadable(name, exc.strerror or type(exc).__name__)
    if stat.S_ISDIR(info.st_mode) and not os.path.islink(path) and is_model_folder(path):
        from registry.lineage.intake import folder_result

        return folder_result(path, limits, source)
    if not stat.S_ISREG(info.st_mode):
        return _not_regular(name, _kind(path, info.st_mode))
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the stat, open still
        # returns at once and the fstat below refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                return _not_regular(name, _kind(path, info.st_mode))
            # Over the limit by its size: read only enough to sniff. Otherwise read one byte
            # past the limit, in case the file grew since fstat.
            wanted = _SNIFF_BYTES if info.st_size > limits.max_bytes else limits.max_bytes + 1
            data = handle.read(wanted)
    except OSError as exc:
        return _unreadable(name, exc.strerror or type(exc).__name__)
    if info.st_size > limits.max_bytes or len(data) > limits.max_bytes:
        size = max(info.st_size, len(data))
        return IntakeResult(
            path=name,
            sha256="",
            size_bytes=size,
            media_type=sniff(data[:_SNIFF_BYTES]),
            error="too-large",
            error_detail=f"{size} bytes is over the limit of {limits.max_bytes}",
        )
    return intake_bytes(data, limits, path=name, source=source)


def intake_batches(
    paths: Iterable[Path],
    limits: IntakeLimits,
    batch_size: int,
    intake: Callable[[Path, IntakeLimits], IntakeResult] = intake_path,
) -> Iterator[list[IntakeResult]]:
    """Take ``paths`` in, in batches bounded by count *and* by decoded pixels.

    Memory follows pixels, not bytes (a 249 KB PNG can decode to 64 M pixels), so a batch
    ends before the file that would take its decoded pixels past ``max_batch_pixels``; a
    single file larger than that (it is within ``max_pixels``) makes a batch of its own.
    """
    batch: list[IntakeResult] = []
    pixels = 0
    for path in paths:
        result = intake(path, limits)
        size = result.width * result.height if result.ok and result.width and result.height else 0
        if batch and (len(batch) >= batch_size or pixels + size > limits.max_batch_pixels):
            yield batch
            batch, pixels = [], 0
        batch.append(result)
        pixels += size
    if batch:
        yield batch


def _link_problem(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "dangling symbolic link"
    return f"symbolic link: {exc.strerror or type(exc).__name__}"


def _kind(path: Path, mode: int) -> str:
    if stat.S_ISDIR(mode):
        if not os.access(path, os.R_OK | os.X_OK):
            return "a folder that cannot be listed"
        return "a folder reached through a symbolic link (not followed)"
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    for test, label in kinds:
        if test(mode):
            return label
    return f"not a regular file (mode {stat.filemode(mode)})"


def _not_regular(path: str, detail: str) -> IntakeResult:
    return IntakeResult(
        path=path,
        sha256="",
        size_bytes=0,
        media_type=OCTET_STREAM,
        error="not-a-regular-file",
        error_detail=detail,
    )


def _unreadable(path: str, detail: str) -> IntakeResult:
    return IntakeResult(
        path=path,
        sha256="",
        size_bytes=0,
        media_type=OCTET_STREAM,
        error="unreadable",
        error_detail=detail,
    )
