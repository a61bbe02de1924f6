"""Cheap structural checks run on raw bytes before any pixel is decoded.

Pillow alone is not enough for hardened intake: it does not verify the CRC of ``IDAT``
chunks, loads a PNG that lacks ``IEND``, and honours the process-wide
``ImageFile.LOAD_TRUNCATED_IMAGES`` switch that any other library may have turned on. These
walkers look only at container framing (chunk lengths and CRCs, GIF blocks, JPEG markers,
the RIFF size, ISO-BMFF box sizes), in time linear in the input and without allocating
pixels, and raise
:class:`~registry.errors.IntakeError` with ``truncated``, ``corrupt``, ``too-many-frames`` or
``too-many-chunks`` (a walk is capped at ``max_chunks`` chunks or blocks, so its cost is
bounded whatever the file: 1.3 million empty PNG chunks are refused after 20,000).

Decode leniently, flag strictly: what a mainstream decoder (libpng, browsers) tolerates is an
*anomaly*, recorded in :attr:`Framing.anomalies` for the file-facts verdict, and the pixels
are still decoded and judged. For PNG these are a bad CRC on an ancillary chunk, a zTXt or
compressed iTXt chunk with an unknown compression method, broken zlib data, or more than
:data:`MAX_TEXT_CHUNK` bytes once inflated, and data after ``IEND``; Pillow refuses all of
these, so such chunks are left out of :attr:`Framing.decode_data`, the copy Pillow decodes
(the detectors still read the original bytes). For JPEG and GIF, data after ``EOI`` or the
trailer. A bad CRC on a critical chunk (``IHDR``, ``PLTE``, ``IDAT``, ``IEND``) stays
``corrupt``: libpng refuses it too.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from registry.errors import IntakeError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Pillow's own cap on an inflated text chunk (``PngImagePlugin.MAX_TEXT_CHUNK``).
MAX_TEXT_CHUNK = 1024 * 1024
#: Default cap on chunks (PNG) or top-level blocks (GIF) walked in one file. Real files have
#: tens (a 64 MB PNG written in 8 KB IDATs has about 8,000); libpng itself keeps at most
#: 1,000 unknown ancillary chunks by default.
MAX_CHUNKS = 20_000


@dataclass(frozen=True)
class Framing:
    """What the container framing says: declared size and frame count, where known, the
    anomalies tolerated, and (when some chunk had to be left out) the bytes to decode."""

    width: int | None = None
    height: int | None = None
    frames: int | None = None
    anomalies: tuple[str, ...] = ()
    decode_data: bytes | None = None


def check_structure(
    media_type: str, data: bytes, max_frames: int, max_chunks: int = MAX_CHUNKS
) -> Framing:
    """Validate the framing of ``data`` for its sniffed type; unknown types pass untouched."""
    if media_type == "image/png":
        return _png(data, max_chunks)
    if media_type == "image/gif":
        return _gif(data, max_frames, max_chunks)
    if media_type == "image/jpeg":
        return _jpeg(data)
    if media_type == "image/webp":
        _riff(data)
    elif media_type in ("image/heic", "image/heif", "image/avif"):
        _isobmff(data)
    return Framing()


def _png(data: bytes, max_chunks: int) -> Framing:
    view = memoryview(data)
    pos, size = len(_PNG_SIGNATURE), len(data)
    width = height = None
    frames = chunks = 0
    anomalies: list[str] = []
    dropped: list[tuple[int, int]] = []  # (start, end) of chunks Pillow would refuse
    while True:
        if pos + 8 > size:
            raise IntakeError("truncated", f"PNG ends at byte {size} before IEND")
        chunks += 1
        if chunks > max_chunks:
            raise IntakeError("too-many-chunks", f"PNG has more than {max_chunks} chunks")
        length = int.from_bytes(view[pos : pos + 4], "big")
        kind = bytes(view[pos + 4 : pos + 8])
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise IntakeError("corrupt", f"bad PNG chunk header at byte {pos}")
        end = pos + 12 + length
        if end > size:
            raise IntakeError("truncated", f"PNG chunk {kind!r} runs past the end")
        ancillary = bool(kind[0] & 0x20)
        stored = int.from_bytes(view[end - 4 : end], "big")
        if zlib.crc32(view[pos + 4 : end - 4]) != stored:
            if not ancillary:
                raise IntakeError("corrupt", f"bad CRC in PNG chunk {kind!r} at byte {pos}")
            anomalies.append(f"bad CRC in ancillary PNG chunk {kind.decode()} at byte {pos}")
            dropped.append((pos, end))
        elif kind in (b"zTXt", b"iTXt"):
            problem = _text_chunk_problem(kind, view[pos + 8 : end - 4])
            if problem is not None:
                anomalies.append(f"PNG {kind.decode()} chunk at byte {pos}: {problem}")
                dropped.append((pos, end))
        if pos == len(_PNG_SIGNATURE):
            if kind != b"IHDR" or length != 13:
                raise IntakeError("corrupt", "PNG does not start with IHDR")
            width = int.from_bytes(view[pos + 8 : pos + 12], "big")
            height = int.from_bytes(view[pos + 12 : pos + 16], "big")
        elif kind == b"fcTL":
            frames += 1
        elif kind == b"IEND":
            if end < size:
                anomalies.append(f"{size - end} bytes after IEND")
            decode = None
            if dropped or end < size:
                decode = _without(data[:end], dropped)
            return Framing(width, height, max(frames, 1), tuple(anomalies[:20]), decode)
        pos = end


def _text_chunk_problem(kind: bytes, body: memoryview) -> str | None:
    """Why Pillow would refuse this zTXt / iTXt chunk, or ``None`` if it reads it."""
    raw = bytes(body[:80])
    keyword_end = raw.find(b"\0")
    if keyword_end < 0:
        return None  # Pillow tolerates a chunk without a keyword terminator
    offset = keyword_end + 1
    if kind == b"iTXt":
        if len(body) < offset + 2 or body[offset] == 0:  # not compressed
            return None
        method = body[offset + 1]
        rest = bytes(body[offset + 2 :])
        for _ in range(2):  # language tag and translated keyword, NUL-terminated
            cut = rest.find(b"\0")
            if cut < 0:
                return None
            rest = rest[cut + 1 :]
        compressed = rest
    else:
        if len(body) <= offset:
            return None
        method = body[offset]
        compressed = bytes(body[offset + 1 :])
    if method != 0:
        return f"unknown compression method {method}"
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(compressed, MAX_TEXT_CHUNK + 1)
    except zlib.error as exc:
        return f"broken zlib data ({exc})"
    if len(inflated) > MAX_TEXT_CHUNK:
        return f"inflates past {MAX_TEXT_CHUNK} bytes"
    return None


def _without(data: bytes, dropped: list[tuple[int, int]]) -> bytes:
    parts: list[bytes] = []
    pos = 0
    for start, end in dropped:
        parts.append(data[pos:start])
        pos = end
    parts.append(data[pos:])
    return b"".join(parts)


def _gif(data: bytes, max_frames: int, max_chunks: int) -> Framing:
    size = len(data)
    if size < 13:
        raise IntakeError("truncated", "GIF shorter than its screen descriptor")
    width = int.from_bytes(data[6:8], "little")
    height = int.from_bytes(data[8:10], "little")
    pos = 13 + _color_table_size(data[10])
    frames = blocks = 0
    while pos < size:
        block = data[pos]
        if block == 0x3B:  # trailer
            extra = size - pos - 1
            found = (f"{extra} bytes after the GIF trailer",) if extra else ()
            return Framing(width, height, frames, found)
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
        blocks += 1
        if blocks > max_chunks:
            raise IntakeError("too-many-chunks", f"GIF has more than {max_chunks} blocks")
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


def _jpeg(data: bytes) -> Framing:
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
            extra = size - pos - 2
            return Framing(anomalies=(f"{extra} bytes after EOI",) if extra else ())
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
