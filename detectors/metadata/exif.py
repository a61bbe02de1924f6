"""EXIF tags generators write into, decoded with Pillow's EXIF reader.

Pillow (``Image.Exif.load``) parses the TIFF structure of one raw EXIF block (with or
without the ``Exif\\0\\0`` prefix) and bounds every read by the block it is given. What it
leaves as raw bytes — ``UserComment``, whose first eight bytes name its character set — is
decoded here, including ``UNICODE\\0`` text in either UTF-16 byte order: piexif (used by
AUTOMATIC1111) always writes big-endian whatever the TIFF byte order says, other writers
follow the TIFF byte order, so the order is inferred from the text and only falls back to
the TIFF header when the text does not tell.

Pillow signals a corrupt IFD with a ``UserWarning`` and reads on; those warnings are
captured (``warnings.catch_warnings``, process-wide state: detectors run one sample at a
time per process/actor) and reported as ``bad-exif`` error entries.
"""

from __future__ import annotations

import warnings

from PIL import Image

from detectors.base import JSONValue
from detectors.metadata.findings import TextEntry, error_entry

MAX_EXIF_BYTES = 4 * 1024 * 1024
EXIF_IFD = 0x8769

IFD0_TAGS = {
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x9286: "UserComment",  # Fooocus writes it into IFD0
    0x927C: "MakerNote",
}
EXIF_IFD_TAGS = {0x9286: "UserComment", 0x927C: "MakerNote"}

_CHARSETS = {
    b"ASCII\x00\x00\x00": "ascii",
    b"UNICODE\x00": "unicode",
    b"JIS\x00\x00\x00\x00\x00": "shift_jis",
    b"\x00" * 8: "undefined",
}


def read_exif(blob: bytes, source: str) -> tuple[list[TextEntry], list[dict[str, JSONValue]]]:
    """Text entries (``exif:<TagName>``) from one raw EXIF block, and any errors."""
    if len(blob) > MAX_EXIF_BYTES:
        return [], [error_entry(source, "too-large", f"EXIF block of {len(blob)} bytes skipped")]
    exif = Image.Exif()
    entries: list[TextEntry] = []
    errors: list[dict[str, JSONValue]] = []
    # Pillow reports a corrupt IFD with a warning and reads on; record it as an error.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exif.load(blob)
            endian = exif.endian or ">"
            _collect(entries, dict(exif.items()), IFD0_TAGS, source, endian)
            if EXIF_IFD in exif:
                _collect(
                    entries,
                    dict(exif.get_ifd(EXIF_IFD).items()),
                    EXIF_IFD_TAGS,
                    f"{source}:ExifIFD",
                    endian,
                )
        except Exception as exc:  # Pillow raises many types on corrupt EXIF
            errors.append(error_entry(source, "bad-exif", f"{type(exc).__name__}: {exc}"))
    for warning in caught[:5]:
        errors.append(error_entry(source, "bad-exif", str(warning.message)))
    return entries, errors


def _collect(
    entries: list[TextEntry],
    tags: dict[int, object],
    names: dict[int, str],
    source: str,
    endian: str,
) -> None:
    for tag, name in names.items():
        if tag not in tags:
            continue
        raw = tags[tag]
        text = decode_user_comment(raw, endian) if name == "UserComment" else _plain_text(raw)
        if text:
            entries.append(TextEntry(f"exif:{name}", text, f"{source}:{name}"))


def decode_user_comment(raw: object, endian: str = ">") -> str:
    """Decode an EXIF UserComment value (bytes with an 8-byte charset code, or text)."""
    if isinstance(raw, str):
        return raw.rstrip("\x00").strip()
    if not isinstance(raw, bytes):
        return ""
    charset = _CHARSETS.get(raw[:8])
    body = raw[8:] if charset else raw
    if charset == "unicode":
        text = body.decode(_utf16_order(body, endian), "replace")
    elif charset == "shift_jis":
        text = body.decode("shift_jis", "replace")
    else:
        text = body.decode("utf-8", "replace")
    return text.lstrip("\ufeff").rstrip("\x00").strip()


def _utf16_order(body: bytes, endian: str) -> str:
    if body[:2] == b"\xfe\xff":
        return "utf-16-be"
    if body[:2] == b"\xff\xfe":
        return "utf-16-le"
    sample = body[:4096]
    zeros_even = sample[0::2].count(0)
    zeros_odd = sample[1::2].count(0)
    # Mostly-Latin text puts its zero bytes first in big-endian, second in little-endian.
    if zeros_even > 2 * zeros_odd:
        return "utf-16-be"
    if zeros_odd > 2 * zeros_even:
        return "utf-16-le"
    return "utf-16-le" if endian == "<" else "utf-16-be"


def _plain_text(raw: object) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return ""
    return raw.rstrip("\x00").strip()
