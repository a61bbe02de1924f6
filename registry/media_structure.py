"""Cheap structural checks run on raw bytes before any pixel is decoded.

Pillow alone is not enough for hardened intake: it does not verify the CRC of ``IDAT``
chunks, loads a PNG that lacks ``IEND``, and honours the process-wide
``ImageFile.LOAD_TRUNCATED_IMAGES`` switch that any other library may have turned on. These
walkers look only at container framing (chunk lengths and CRCs, GIF blocks, JPEG markers,
the RIFF size, ISO-BMFF box sizes), in time linear in the input and without allocating
pixels, and raise
:class:`~registry.errors.IntakeError` with ``truncated``, ``corrupt`` or ``too-many-frames``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from registry.errors import IntakeError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Framing:
    """What the container framing says: declared size and frame count, where known."""

    width: int | None = None
    height: int | None = None
    frames: int | None = None


def check_structure(media_type: str, data: bytes, max_frames: int) -> Framing:
    """Validate the framing of ``data`` for its sniffed type; unknown types pass untouched."""
    if media_type == "image/png":
        return _png(data)
    if media_type == "image/gif":
        return _gif(data, max_frames)
    if media_type == "image/jpeg":
        _jpeg(data)
    elif media_type == "image/webp":
        _riff(data)
    elif media_type in ("image/heic", "image/heif", "image/avif"):
        _isobmff(data)
    return Framing()


def _png(data: bytes) -> Framing:
    view = memoryview(data)
    pos, size = len(_PNG_SIGNATURE), len(data)
    width = height = None
    frames = 0
    while True:
        if pos + 8 > size:
            raise IntakeError("truncated", f"PNG ends at byte {size} before IEND")
        length = int.from_bytes(view[pos : pos + 4], "big")
        kind = bytes(view[pos + 4 : pos + 8])
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise IntakeError("corrupt", f"bad PNG chunk header at byte {pos}")
        end = pos + 12 + length
        if end > size:
            raise IntakeError("truncated", f"PNG chunk {kind!r} runs past the end")
        stored = int.from_bytes(view[end - 4 : end], "big")
        if zlib.crc32(view[pos + 4 : end - 4]) != stored:
            raise IntakeError("corrupt", f"bad CRC in PNG chunk {kind!r} at byte {pos}")
        if pos == len(_PNG_SIGNATURE):
            if kind != b"IHDR" or length != 13:
                raise IntakeError("corrupt", "PNG does not start with IHDR")
            width = int.from_bytes(view[pos + 8 : pos + 12], "big")
            height = int.from_bytes(view[pos + 12 : pos + 16], "big")
        elif kind == b"fcTL":
            frames += 1
        elif kind == b"IEND":
            return Framing(width, height, max(frames, 1))
        pos = end


def _gif(data: bytes, max_frames: int) -> Framing:
    size = len(data)
    if size < 13:
        raise IntakeError("truncated", "GIF shorter than its screen descriptor")
    width = int.from_bytes(data[6:8], "little")
    height = int.from_bytes(data[8:10], "little")
    pos = 13 + _color_table_size(data[10])
    frames = 0
    while pos < size:
        block = data[pos]
        if block == 0x3B:  # trailer
            return Framing(width, height, frames)
        if block == 0x2C:  # image descriptor
            if pos + 10 > size:
                break
            frames += 1
            if frames > max_frames:
                raise IntakeError("too-many-frames", f"GIF has more than {max_frames} frames")
            pos += 10 + _color_table_size(data[pos + 9]) + 1  # + LZW minimum code size
        elif block == 0x21:  # extension: introducer and label
            pos += 2
        else:
            raise IntakeError("corrupt", f"unknown GIF block 0x{block:02x} at byte {pos}")
        pos = _skip_sub_blocks(data, pos)
    raise IntakeError("truncated", "GIF ends before its trailer")


def _color_table_size(packed: int) -> int:
    return 3 * (2 ** ((packed & 0x07) + 1)) if packed & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    size = len(data)
    while pos < size:
        length = data[pos]
        pos += 1 + length
        if length == 0:
            return pos
    return size + 1  # ran out inside the blocks: the caller reports truncation


def _jpeg(data: bytes) -> None:
    size = len(data)
    pos = 2
    while True:
        # Tolerate stray bytes between segments (libjpeg does too); only framing matters here.
        pos = data.find(b"\xff", pos)
        while 0 <= pos < size - 1 and data[pos + 1] == 0xFF:
            pos += 1
        if pos < 0 or pos + 1 >= size:
            raise IntakeError("truncated", "JPEG ends before its EOI marker")
        marker = data[pos + 1]
        if marker == 0xD9:
            return
        if marker in (0x00, 0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if pos + 4 > size:
            raise IntakeError("truncated", "JPEG ends inside a marker segment")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            raise IntakeError("corrupt", f"JPEG segment length {length} at byte {pos}")
        pos += 2 + length
        if pos > size:
            raise IntakeError("truncated", "JPEG ends inside a marker segment")
        if marker == 0xDA:
            pos = _skip_entropy_coded(data, pos)


def _skip_entropy_coded(data: bytes, pos: int) -> int:
    """Position of the first real marker after a scan (stuffed 0xFF00 and RSTn skipped)."""
    size = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= size:
            raise IntakeError("truncated", "JPEG ends inside its image data")
        following = data[pos + 1]
        if following == 0x00 or following == 0xFF or 0xD0 <= following <= 0xD7:
            pos += 1 if following == 0xFF else 2
            continue
        return pos


def _riff(data: bytes) -> None:
    declared = int.from_bytes(data[4:8], "little") + 8
    if declared > len(data):
        raise IntakeError("truncated", f"RIFF declares {declared} bytes, has {len(data)}")


def _isobmff(data: bytes) -> None:
    """Top-level ISO-BMFF boxes (``ftyp``, ``meta``, ``mdat``…) must fit in the data."""
    pos, size = 0, len(data)
    while pos < size:
        if pos + 8 > size:
            raise IntakeError("truncated", f"ISO-BMFF box header cut at byte {pos}")
        length = int.from_bytes(data[pos : pos + 4], "big")
        header = 8
        if length == 1:  # 64-bit size follows the type
            if pos + 16 > size:
                raise IntakeError("truncated", f"ISO-BMFF box header cut at byte {pos}")
            length = int.from_bytes(data[pos + 8 : pos + 16], "big")
            header = 16
        elif length == 0:  # the box runs to the end of the file
            return
        if length < header:
            raise IntakeError("corrupt", f"ISO-BMFF box of size {length} at byte {pos}")
        if pos + length > size:
            raise IntakeError("truncated", f"ISO-BMFF box at byte {pos} runs past the end")
        pos += length
