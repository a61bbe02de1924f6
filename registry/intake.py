"""Hardened media intake: bytes → content address → sniffed type → bounded, safe decode.

Every input, however hostile, comes back as an :class:`IntakeResult`; bad content is an
``error`` reason from :data:`ERROR_REASONS`, never an exception. The steps, cheapest first:

1. ``stat`` first: anything but a regular file is ``not-a-regular-file`` and is never opened;
   size: ``empty`` or ``too-large`` (decided from ``stat``: a file over the limit is read
   only far enough to sniff its type, and is not hashed);
2. content address (SHA-256) and the real type sniffed from magic bytes
   (:mod:`registry.media_sniff`) — the file name never decides anything;
3. container framing checked on the raw bytes (:mod:`registry.media_structure`), leniently
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
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import os
import stat
import struct
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from detectors.base import Sample
from detectors.model import MODEL_TYPES, is_model_folder
from registry.errors import ConfigurationError, IntakeError
from registry.media_sniff import DECODABLE, OCTET_STREAM, is_image_type, sniff
from registry.media_structure import MAX_CHUNKS, Framing, check_structure

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
        "unsafe-pickle", "non-finite-weights",  # model files (registry/lineage/intake.py)
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
            "max_bytes", "max_pixels", "max_frames", "max_dimension", "max_chunks",
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
    #: Structural oddities tolerated while decoding (see registry/media_structure.py).
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
    if pillow_format is None or not _pillow_supports(pillow_format):
        return failure("unsupported-format", f"{media_type} is recognised but not decodable")
    framing = Framing()
    try:
        framing = check_structure(media_type, data, limits.max_frames, limits.max_chunks)
        if framing.width is not None and framing.height is not None:
            _check_dimensions(framing.width, framing.height, limits)
        decodable = data if framing.decode_data is None else framing.decode_data
        image, frames = _decode(decodable, pillow_format, framing, limits)
    except IntakeError as exc:
        return failure(exc.reason, exc.detail, framing)
    sample = Sample(sha256=sha256, data=data, media_type=media_type, image=image, source=source,
                    anomalies=framing.anomalies)
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
        (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
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
