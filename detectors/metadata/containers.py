"""Find the metadata blocks in PNG, JPEG and WebP bytes, with strict bounds.

:func:`read_container` sniffs the format from the bytes (never from the declared media
type) and returns a :class:`Container`: text entries, raw EXIF blocks, XMP packets and the
malformed parts it skipped. It raises :class:`ContainerError` (reason ``not-an-image`` or
``truncated``) only when the bytes are not one of these containers at all.

The JPEG and WebP walkers are written here, like the PNG one (see ``png.py``), because only
the segment/chunk framing is needed, every length must be checked against the bytes that
are there, and a bad segment must be reported and skipped rather than end the read.
Decoding EXIF itself is left to Pillow (``exif.py``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from detectors.base import JSONValue
from detectors.metadata.findings import ContainerError, TextEntry, error_entry
from detectors.metadata.png import PNG_SIGNATURE, read_png

JPEG_SOI = b"\xff\xd8\xff"
EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
MAX_SEGMENTS = 10_000


@dataclass
class Container:
    """The metadata blocks found in one file."""

    format: str
    texts: list[TextEntry] = field(default_factory=list)
    exif: list[tuple[bytes, str]] = field(default_factory=list)
    xmp: list[tuple[str, str]] = field(default_factory=list)
    errors: list[dict[str, JSONValue]] = field(default_factory=list)


def sniff(data: bytes) -> str:
    """``png``, ``jpeg`` or ``webp`` from the leading bytes; raise :class:`ContainerError`."""
    if not data:
        raise ContainerError("not-an-image", "empty input")
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(JPEG_SOI):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for magic in (PNG_SIGNATURE, JPEG_SOI, b"RIFF"):
        if len(data) < len(magic) and magic.startswith(data):
            raise ContainerError("truncated", "input ends inside the file signature")
    if data[:4] == b"RIFF" and len(data) < 12:
        raise ContainerError("truncated", "input ends inside the RIFF header")
    raise ContainerError("not-an-image", "not a PNG, JPEG or WebP file")


def read_container(data: bytes) -> Container:
    """Read every metadata block of ``data``; see the module docstring."""
    fmt = sniff(data)
    if fmt == "png":
        png = read_png(data)  # raises PNGHeaderError, a ContainerError
        return Container("png", png.texts, png.exif, png.xmp, png.errors)
    if fmt == "jpeg":
        return _read_jpeg(data)
    return _read_webp(data)


def _read_jpeg(data: bytes) -> Container:
    out = Container("jpeg")
    pos = 2
    segments = 0
    while pos < len(data) and segments < MAX_SEGMENTS:
        if data[pos] != 0xFF:
            out.errors.append(
                error_entry(
                    "jpeg", "bad-marker", f"expected a marker at byte {pos}; stopped reading"
                )
            )
            break
        while pos < len(data) and data[pos] == 0xFF:
            pos += 1  # fill bytes
        if pos >= len(data):
            break
        marker = data[pos]
        pos += 1
        if marker == 0xD9 or marker == 0xDA:  # EOI, or start of scan: metadata comes before
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue  # standalone markers carry no length
        if pos + 2 > len(data):
            _jpeg_cut(out, segments, f"segment FF{marker:02X} length is cut short")
            break
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > len(data):
            _jpeg_cut(out, segments, f"segment FF{marker:02X} at byte {pos} runs past the end")
            break
        body = data[pos + 2 : pos + length]
        pos += length
        segments += 1
        _jpeg_segment(out, marker, body)
    if segments >= MAX_SEGMENTS:
        out.errors.append(
            error_entry("jpeg", "too-many-segments", f"stopped after {MAX_SEGMENTS} segments")
        )
    if segments == 0:
        raise ContainerError("truncated", "JPEG has no complete segment after its SOI marker")
    return out


def _jpeg_cut(out: Container, segments: int, detail: str) -> None:
    if segments == 0:
        raise ContainerError("truncated", detail)
    out.errors.append(error_entry("jpeg", "segment-past-end", detail))


def _jpeg_segment(out: Container, marker: int, body: bytes) -> None:
    if marker == 0xE1 and body.startswith(EXIF_HEADER):
        out.exif.append((body, "jpeg:APP1:Exif"))
    elif marker == 0xE1 and body.startswith(XMP_HEADER):
        out.xmp.append((body[len(XMP_HEADER) :].decode("utf-8", "replace"), "jpeg:APP1:XMP"))
    elif marker == 0xFE:
        out.texts.append(TextEntry("comment", body.decode("utf-8", "replace"), "jpeg:COM"))


def _read_webp(data: bytes) -> Container:
    out = Container("webp")
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = min(len(data), 8 + riff_size)
    if riff_size + 8 > len(data):
        out.errors.append(
            error_entry(
                "webp", "truncated", "RIFF size is larger than the file; read what is there"
            )
        )
    pos = 12
    chunks = 0
    while pos + 8 <= end and chunks < MAX_SEGMENTS:
        fourcc = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        name = fourcc.decode("latin-1")
        if pos + 8 + size > end:
            if chunks == 0:
                raise ContainerError("truncated", f"first WebP chunk {name!r} runs past the end")
            out.errors.append(
                error_entry(
                    f"webp:{name}",
                    "chunk-past-end",
                    f"{name!r} chunk at byte {pos} runs past the end",
                )
            )
            break
        body = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
        chunks += 1
        if fourcc == b"EXIF":
            out.exif.append((body, "webp:EXIF"))
        elif fourcc == b"XMP ":
            out.xmp.append((body.decode("utf-8", "replace"), "webp:XMP"))
    if chunks >= MAX_SEGMENTS:
        out.errors.append(
            error_entry("webp", "too-many-chunks", f"stopped after {MAX_SEGMENTS} chunks")
        )
    if chunks == 0:
        raise ContainerError("truncated", "WebP has no complete chunk")
    return out
