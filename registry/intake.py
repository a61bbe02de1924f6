"""Hardened media intake: bytes → content address → sniffed type → bounded, safe decode.

Every input, however hostile, comes back as an :class:`IntakeResult`; bad content is an
``error`` reason from :data:`ERROR_REASONS`, never an exception. The steps, cheapest first:

1. size: ``empty`` or ``too-large`` (a file over the limit is not read past ``max_bytes``);
2. content address (SHA-256) and the real type sniffed from magic bytes
   (:mod:`registry.media_sniff`) — the file name never decides anything;
3. container framing checked on the raw bytes (:mod:`registry.media_structure`): PNG chunk
   CRCs and ``IEND``, GIF blocks and a frame count that stops past ``max_frames``, JPEG
   markers up to ``EOI``, the RIFF size — so truncation is an error even if some other
   library switched on Pillow's ``LOAD_TRUNCATED_IMAGES``;
4. Pillow opens the header only, restricted to the sniffed format; declared dimensions are
   checked against the limits before a pixel is allocated, frames are counted cheaply;
5. the first frame is decoded with Pillow's decompression-bomb warning raised as an error,
   and EXIF orientation is applied.

``warnings.catch_warnings`` mutates the interpreter's warning filters, so decode one image
per thread at a time (Ray actors and worker processes each have their own interpreter).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import stat
import struct
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from detectors.base import Sample
from registry.errors import ConfigurationError, IntakeError
from registry.media_sniff import DECODABLE, OCTET_STREAM, is_image_type, sniff
from registry.media_structure import Framing, check_structure

__all__ = [
    "ERROR_REASONS",
    "IntakeLimits",
    "IntakeResult",
    "intake_bytes",
    "intake_path",
    "iter_media_paths",
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

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_frames", "max_dimension"):
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
    if not is_image_type(media_type):
        return failure("not-an-image", f"content is {media_type}")
    pillow_format = DECODABLE.get(media_type)
    if pillow_format is None or not _pillow_supports(pillow_format):
        return failure("unsupported-format", f"{media_type} is recognised but not decodable")
    framing = Framing()
    try:
        framing = check_structure(media_type, data, limits.max_frames)
        if framing.width is not None and framing.height is not None:
            _check_dimensions(framing.width, framing.height, limits)
        image, frames = _decode(data, pillow_format, framing, limits)
    except IntakeError as exc:
        return failure(exc.reason, exc.detail, framing)
    sample = Sample(sha256=sha256, data=data, media_type=media_type, image=image, source=source)
    return IntakeResult(
        path=path,
        sha256=sha256,
        size_bytes=size,
        media_type=media_type,
        width=image.width,
        height=image.height,
        frames=frames,
        sample=sample,
    )


def intake_path(path: Path, limits: IntakeLimits, *, source: str | None = None) -> IntakeResult:
    """Read at most ``max_bytes + 1`` bytes of ``path`` and take them in.

    Files that cannot be opened, or are not regular files (a FIFO would block), give
    ``unreadable``; a file over the limit gives ``too-large`` after reading only its head.
    """
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                return _unreadable(name, "not a regular file")
            # Over the limit by its size: read only enough to sniff. Otherwise read one byte
            # past the limit, in case the file grew since fstat.
            wanted = _SNIFF_BYTES if info.st_size > limits.max_bytes else limits.max_bytes + 1
            data = handle.read(wanted)
            if info.st_size > limits.max_bytes or len(data) > limits.max_bytes:
                # Still content-addressed, so the error verdict names the real asset; the
                # digest streams in fixed-size chunks and never holds the file in memory.
                handle.seek(0)
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        return _unreadable(name, exc.strerror or type(exc).__name__)
    if info.st_size > limits.max_bytes or len(data) > limits.max_bytes:
        size = max(info.st_size, len(data))
        return IntakeResult(
            path=name,
            sha256=digest,
            size_bytes=size,
            media_type=sniff(data[:_SNIFF_BYTES]),
            error="too-large",
            error_detail=f"{size} bytes is over the limit of {limits.max_bytes}",
        )
    return intake_bytes(data, limits, path=name, source=source)


def iter_media_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named directly, and files under folders, in a deterministic order.

    Folders are walked recursively in sorted order, skipping hidden entries and never
    following a symlinked folder. A path that does not exist raises ``IntakeError``.
    """
    for path in paths:
        if not path.exists():
            raise IntakeError("not-found", str(path))
        if path.is_dir():
            yield from _walk(path)
        else:
            yield path


def _walk(folder: Path) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        raise IntakeError("unreadable", f"{folder}: {exc.strerror}") from exc
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif entry.is_file():
            yield Path(entry.path)


def _unreadable(path: str, detail: str) -> IntakeResult:
    return IntakeResult(
        path=path,
        sha256="",
        size_bytes=0,
        media_type=OCTET_STREAM,
        error="unreadable",
        error_detail=detail,
    )


@functools.cache
def _pillow_supports(pillow_format: str) -> bool:
    """Whether Pillow here can open the format; registers pillow-heif once, on first need."""
    if pillow_format == "HEIF":
        try:
            import pillow_heif
        except ImportError:
            return False
        pillow_heif.register_heif_opener()
    Image.init()
    return pillow_format in Image.OPEN


def _check_dimensions(width: int, height: int, limits: IntakeLimits) -> None:
    if width <= 0 or height <= 0:
        raise IntakeError("corrupt", f"declared size {width}x{height}")
    if max(width, height) > limits.max_dimension or width * height > limits.max_pixels:
        raise IntakeError(
            "decompression-bomb",
            f"declared size {width}x{height} is over the limits "
            f"({limits.max_dimension} per side, {limits.max_pixels} pixels)",
        )


def _decode(
    data: bytes, pillow_format: str, framing: Framing, limits: IntakeLimits
) -> tuple[Image.Image, int]:
    with warnings.catch_warnings():
        # Other decoder warnings (odd EXIF, short tag reads) are noise in bulk intake;
        # what matters is the verdict. The bomb warning is raised and becomes one.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as opened:
                _check_dimensions(opened.width, opened.height, limits)
                frames = _count_frames(opened, framing, limits)
                opened.load()
                return _oriented(opened), frames
        except IntakeError:
            raise
        except UnidentifiedImageError as exc:
            # Image.open hides why the plugin refused; ask the plugin itself for the reason.
            cause = _header_error(data, pillow_format) or exc
            raise IntakeError(_classify(cause), _describe(cause)) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise IntakeError("decompression-bomb", f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # any decoder failure is a verdict, not a crash
            raise IntakeError(_classify(exc), _describe(exc)) from exc


def _count_frames(image: Image.Image, framing: Framing, limits: IntakeLimits) -> int:
    if framing.frames is not None:
        frames = framing.frames
    elif image.format == "TIFF":
        # Pillow's TIFF n_frames walks every IFD; seek one at a time and stop past the limit.
        frames = 1
        while frames <= limits.max_frames:
            try:
                image.seek(frames)
            except EOFError:
                break
            frames += 1
        image.seek(0)
    else:
        frames = int(getattr(image, "n_frames", 1))
    if frames > limits.max_frames:
        raise IntakeError("too-many-frames", f"more than {limits.max_frames} frames")
    return frames


def _oriented(image: Image.Image) -> Image.Image:
    try:
        result = ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block does not spoil the pixels
        result = None
    oriented = result if result is not None else image.copy()
    oriented.format = image.format
    return oriented


def _header_error(data: bytes, pillow_format: str) -> Exception | None:
    factory, _accept = Image.OPEN[pillow_format]
    try:
        factory(io.BytesIO(data), "")
    except Exception as exc:  # the exception is the answer sought
        return exc
    return None


_TRUNCATED_HINTS: Final = ("truncated", "unexpected end of file", "insufficient input")
_UNSUPPORTED_HINTS: Final = ("not available", "unsupported", "not supported", "unknown pixel mode")


def _classify(exc: Exception) -> str:
    message = str(exc).lower()
    if isinstance(exc, EOFError | struct.error) or any(h in message for h in _TRUNCATED_HINTS):
        return "truncated"
    if any(hint in message for hint in _UNSUPPORTED_HINTS):
        return "unsupported-format"
    return "corrupt"


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
