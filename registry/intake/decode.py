"""The Pillow step of media intake: open the header restricted to the sniffed format, check
the declared dimensions and frame count against the limits, decode the first frame with the
decompression-bomb warning raised as an error, apply EXIF orientation.

Every decoder failure becomes an :class:`~registry.errors.IntakeError` carrying one of the
documented reasons (:data:`registry.intake.pipeline.ERROR_REASONS`). ``warnings.catch_warnings``
mutates the interpreter's warning filters, so decode one image per thread at a time.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from typing import TYPE_CHECKING, Final

from PIL import Image, ImageOps, UnidentifiedImageError

from registry.errors import IntakeError
from registry.intake.structure import Framing

if TYPE_CHECKING:
    from registry.intake.pipeline import IntakeLimits


@functools.cache
def pillow_supports(pillow_format: str) -> bool:
    """Whether Pillow here can open the format; registers pillow-heif once, on first need."""
    if pillow_format == "HEIF":
        try:
            import pillow_heif
        except ImportError:
            return False
        pillow_heif.register_heif_opener()
    Image.init()
    return pillow_format in Image.OPEN


def check_dimensions(width: int, height: int, limits: IntakeLimits) -> None:
    """``corrupt`` or ``decompression-bomb`` (:class:`IntakeError`) for declared dimensions
    that are not positive or are over the limits."""
    if width <= 0 or height <= 0:
        raise IntakeError("corrupt", f"declared size {width}x{height}")
    if max(width, height) > limits.max_dimension or width * height > limits.max_pixels:
        raise IntakeError(
            "decompression-bomb",
            f"declared size {width}x{height} is over the limits "
            f"({limits.max_dimension} per side, {limits.max_pixels} pixels)",
        )


def decode_first_frame(
    data: bytes, pillow_format: str, framing: Framing, limits: IntakeLimits
) -> tuple[Image.Image, int]:
    """The first frame decoded (EXIF orientation applied) and the frame count; every decoder
    failure becomes an :class:`IntakeError` with its reason."""
    with warnings.catch_warnings():
        # Other decoder warnings (odd EXIF, short tag reads) are noise in bulk intake;
        # what matters is the verdict. The bomb warning is raised and becomes one.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as opened:
                check_dimensions(opened.width, opened.height, limits)
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
