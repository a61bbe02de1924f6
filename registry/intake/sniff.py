"""Sniff a media type from leading bytes (magic numbers), never from a file name.

Written here rather than taken from ``filetype`` or ``puremagic`` because intake needs three
things those do not give together: ISO-BMFF files classified by *all* their ``ftyp`` brands
(a HEIF still with major brand ``mif1`` and compatible ``heic`` is an image, an MP4 with
``isom`` is not), a plain-text / SVG verdict so that text renamed ``.png`` reads as
"not an image" rather than "unknown", and no extra dependency in the intake path.
``filetype`` (last release 2022) decides ``ftyp`` on the major brand alone and has no text
check; ``puremagic`` ranks guesses by extension-oriented confidence, not a single answer.
The table is small because intake only needs to tell images it decodes, images it
recognises but cannot decode, and a few common non-images apart.
"""

from __future__ import annotations

from typing import Final

from detectors.model.tensors import sniff_model

OCTET_STREAM: Final = "application/octet-stream"

#: Types the hardened decoder opens, with the Pillow format name it is restricted to.
DECODABLE: Final[dict[str, str]] = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
    "image/avif": "AVIF",
}

_PREFIXES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"II+\x00", "image/tiff"),
    (b"MM\x00+", "image/tiff"),
    (b"\xff\x0a", "image/jxl"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "image/jxl"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "image/jp2"),
    (b"8BPS", "image/vnd.adobe.photoshop"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"PK\x07\x08", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"\x7fELF", "application/x-executable"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"\x1aE\xdf\xa3", "video/webm"),
)

_RIFF: Final[dict[bytes, str]] = {
    b"WEBP": "image/webp",
    b"WAVE": "audio/wav",
    b"AVI ": "video/x-msvideo",
}

_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})
_HEIC_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_HEIF_BRANDS: Final = frozenset({b"mif1", b"msf1", b"mif2"})
_BMP_HEADER_SIZES: Final = frozenset({12, 16, 40, 52, 56, 64, 108, 124})


def sniff(data: bytes) -> str:
    """The MIME type that ``data`` really is, or ``application/octet-stream``."""
    model = sniff_model(data)  # model files first: a PyTorch zip is a model, not a zip
    if model is not None:
        return model
    for prefix, media_type in _PREFIXES:
        if data.startswith(prefix):
            return media_type
    if data[:4] == b"RIFF" and len(data) >= 12 and data[8:12] in _RIFF:
        return _RIFF[data[8:12]]
    if data[4:8] == b"ftyp":
        return _sniff_ftyp(data)
    if data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
        return "image/bmp"
    return _sniff_text(data)


def is_image_type(media_type: str) -> bool:
    """Whether a sniffed type is an image (decodable or merely recognised)."""
    return media_type.startswith("image/")


def _sniff_ftyp(data: bytes) -> str:
    box_size = int.from_bytes(data[:4], "big")
    end = min(len(data), box_size if 16 <= box_size <= 4096 else 16)
    major = data[8:12]
    compatible = {data[i : i + 4] for i in range(16, end - 3, 4)}
    brands = {major} | compatible
    if major in _AVIF_BRANDS or (major in _HEIF_BRANDS and brands & _AVIF_BRANDS):
        return "image/avif"
    if major in _HEIC_BRANDS or (major in _HEIF_BRANDS and brands & _HEIC_BRANDS):
        return "image/heic"
    if major in _HEIF_BRANDS:
        return "image/heif"
    if major == b"qt  ":
        return "video/quicktime"
    return "video/mp4"


def _sniff_text(data: bytes) -> str:
    head = data[:4096]
    if not head or b"\x00" in head:
        return OCTET_STREAM
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the 4096-byte window is still text.
        if exc.start < len(head) - 3:
            return OCTET_STREAM
        text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\t\n\r\f" for ch in text)
    if printable < 0.95 * len(text):
        return OCTET_STREAM
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if lowered.startswith("<svg") or (lowered.startswith("<?xml") and "<svg" in lowered):
        return "image/svg+xml"
    return "text/plain"
