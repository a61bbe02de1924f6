"""A bounded reader for the PNG chunks that carry metadata: tEXt, zTXt, iTXt and eXIf.

Written here rather than taken from Pillow because Pillow's PNG plugin is built to decode
pixels: it raises on the first bad CRC or truncated chunk (losing every chunk it had read),
its text-chunk limit is a process-wide global (``PngImagePlugin.MAX_TEXT_CHUNK``), and it
does not say which chunk was malformed. This reader checks every length against the bytes
that are there, verifies CRCs, caps the total decompressed text (zlib bombs), and reports
each skipped chunk as an error entry while keeping everything it could read.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from detectors.base import JSONValue
from detectors.metadata.findings import ContainerError, TextEntry, error_entry

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_DECOMPRESSED = 8 * 1024 * 1024
"""Most bytes of text all text chunks of one file may hold (after inflating), together."""

MAX_CHUNKS = 100_000


@dataclass
class _TextBudget:
    """Text bytes this file may still yield (shared by all its text chunks)."""

    remaining: int = MAX_DECOMPRESSED


class PNGHeaderError(ContainerError):
    """The PNG signature or IHDR chunk is missing or cut short: nothing can be read."""


@dataclass
class PNGMetadata:
    """The metadata chunks of one PNG, decoded."""

    texts: list[TextEntry] = field(default_factory=list)
    exif: list[tuple[bytes, str]] = field(default_factory=list)
    xmp: list[tuple[str, str]] = field(default_factory=list)
    errors: list[dict[str, JSONValue]] = field(default_factory=list)


def read_png(data: bytes) -> PNGMetadata:
    """Read the text, EXIF and XMP chunks of the PNG in ``data``.

    Raises :class:`PNGHeaderError` when not even the IHDR chunk can be read.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise PNGHeaderError("not-an-image", "no PNG signature")
    out = PNGMetadata()
    budget = _TextBudget()
    pos = len(PNG_SIGNATURE)
    index = 0
    while pos < len(data) and index < MAX_CHUNKS:
        if pos + 8 > len(data):
            _fail(out, index, "truncated", f"chunk header at byte {pos} is cut short")
            break
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        name = ctype.decode("latin-1")
        if not ctype.isalpha():
            _fail(out, index, "bad-chunk-type", f"invalid chunk type {ctype!r} at byte {pos}")
            break
        if length > 0x7FFFFFFF or pos + 12 + length > len(data):
            _fail(
                out,
                index,
                "chunk-past-end",
                f"{name} chunk at byte {pos} declares {length} bytes, past the end of file",
            )
            break
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        pos += 12 + length
        if index == 0 and name != "IHDR":
            raise PNGHeaderError("not-an-image", f"first chunk is {name}, not IHDR")
        index += 1
        if zlib.crc32(ctype + body) != crc:
            out.errors.append(
                error_entry(
                    f"png:{name}", "bad-crc", f"CRC mismatch in {name} chunk; chunk skipped"
                )
            )
            continue
        if name == "IEND":
            break
        _read_chunk(out, name, body, budget)
    if index >= MAX_CHUNKS:
        out.errors.append(
            error_entry("png", "too-many-chunks", f"stopped after {MAX_CHUNKS} chunks")
        )
    if index == 0:
        raise PNGHeaderError("truncated", "PNG ends before its IHDR chunk")
    return out


def _fail(out: PNGMetadata, index: int, reason: str, detail: str) -> None:
    if index == 0:
        raise PNGHeaderError("truncated", detail)
    out.errors.append(error_entry("png", reason, detail))


def _read_chunk(out: PNGMetadata, name: str, body: bytes, budget: _TextBudget) -> None:
    if name == "eXIf":
        out.exif.append((body, "png:eXIf"))
        return
    if name not in ("tEXt", "zTXt", "iTXt"):
        return
    try:
        key, text = _decode_text(name, body, budget)
    except _ChunkError as exc:
        out.errors.append(error_entry(f"png:{name}:{exc.key}", exc.reason, exc.detail))
        return
    source = f"png:{name}:{key}"
    if key == "XML:com.adobe.xmp":
        out.xmp.append((text, source))
    else:
        out.texts.append(TextEntry(key, text, source))


class _ChunkError(Exception):
    def __init__(self, key: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.key, self.reason, self.detail = key, reason, detail


def _decode_text(name: str, body: bytes, budget: _TextBudget) -> tuple[str, str]:
    sep = body.find(b"\x00")
    if sep < 1 or sep > 79:
        raise _ChunkError("?", "bad-keyword", f"{name} chunk has no valid keyword")
    key = body[:sep].decode("latin-1")
    rest = body[sep + 1 :]
    if name == "tEXt":
        return key, _spend(key, rest, budget).decode("latin-1")
    if name == "zTXt":
        if not rest or rest[0] != 0:
            raise _ChunkError(key, "bad-compression-method", "zTXt method is not deflate")
        return key, _inflate(key, rest[1:], budget).decode("latin-1")
    # iTXt: flag, method, language\0, translated keyword\0, text (UTF-8)
    if len(rest) < 2:
        raise _ChunkError(key, "truncated", "iTXt chunk too short")
    flag, method = rest[0], rest[1]
    lang_end = rest.find(b"\x00", 2)
    trans_end = rest.find(b"\x00", lang_end + 1) if lang_end >= 0 else -1
    if trans_end < 0:
        raise _ChunkError(key, "truncated", "iTXt chunk lacks its language fields")
    payload = rest[trans_end + 1 :]
    if flag == 1:
        if method != 0:
            raise _ChunkError(key, "bad-compression-method", "iTXt method is not deflate")
        payload = _inflate(key, payload, budget)
    elif flag == 0:
        payload = _spend(key, payload, budget)
    else:
        raise _ChunkError(key, "bad-compression-flag", f"iTXt compression flag {flag}")
    return key, payload.decode("utf-8", "replace")


def _spend(key: str, text: bytes, budget: _TextBudget) -> bytes:
    if len(text) > budget.remaining:
        raise _ChunkError(
            key, "too-large", f"{len(text)} bytes of text past the {MAX_DECOMPRESSED}-byte limit"
        )
    budget.remaining -= len(text)
    return text


def _inflate(key: str, compressed: bytes, budget: _TextBudget) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(compressed, budget.remaining + 1)
    except zlib.error as exc:
        raise _ChunkError(key, "bad-zlib", str(exc)) from exc
    if len(out) > budget.remaining or inflater.unconsumed_tail:
        budget.remaining = 0  # one bomb is enough: inflate nothing more from this file
        raise _ChunkError(
            key,
            "decompression-bomb",
            f"inflates past the {MAX_DECOMPRESSED}-byte limit for metadata text",
        )
    if not inflater.eof:
        raise _ChunkError(key, "bad-zlib", "compressed stream is truncated")
    budget.remaining -= len(out)
    return out
