"""Fixture makers: hostile and valid media files with the intake verdict each must get.

``make_bad_files`` cycles through the bad kinds in :data:`BAD_KINDS`, each file's bytes
distinct (except the zero-byte ones) so content addressing does not fold them together;
file names carry a misleading image extension on purpose. ``make_good_files`` writes valid
images whose names encode their size: ``good-0007-61x45.webp``.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

#: (kind, file extension, expected intake error reason)
BAD_KINDS: tuple[tuple[str, str, str], ...] = (
    ("empty", "png", "empty"),
    ("truncated-png", "png", "truncated"),
    ("truncated-jpeg", "jpg", "truncated"),
    ("random-png", "png", "not-an-image"),
    ("random-jpeg", "jpg", "not-an-image"),
    ("text", "png", "not-an-image"),
    ("bomb-png", "png", "decompression-bomb"),
    ("bad-crc-png", "png", "corrupt"),
    ("many-frames-gif", "gif", "too-many-frames"),
    ("pdf", "jpg", "not-an-image"),
    ("zip", "jpg", "not-an-image"),
    ("mp4", "jpg", "not-an-image"),
    ("svg", "png", "unsupported-format"),
    ("truncated-gif", "gif", "truncated"),
)

#: (Pillow format, extension, sniffed media type) for the good files.
GOOD_FORMATS: tuple[tuple[str, str, str], ...] = (
    ("PNG", "png", "image/png"),
    ("JPEG", "jpg", "image/jpeg"),
    ("GIF", "gif", "image/gif"),
    ("WEBP", "webp", "image/webp"),
    ("TIFF", "tif", "image/tiff"),
)


def noise(seed: int, size: tuple[int, int] = (48, 32), mode: str = "RGB") -> Image.Image:
    """A deterministic noise image, different for every seed."""
    rng = random.Random(seed)
    channels = len(mode)
    return Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * channels))


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image`` saved to bytes in ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def bomb_png(width: int = 50_000, height: int = 50_000, seed: int = 0) -> bytes:
    """A tiny PNG whose IHDR declares ``width``x``height`` pixels (valid CRCs, tiny IDAT)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    text = png_chunk(b"tEXt", b"Comment\x00" + str(seed).encode())
    idat = png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + text + idat + png_chunk(b"IEND", b"")


def bad_crc_png(seed: int) -> bytes:
    """A valid PNG with one CRC flipped: the IDAT's (Pillow misses it) or the IHDR's."""
    data = bytearray(encode(noise(seed), "PNG"))
    kind = b"IDAT" if seed % 2 == 0 else b"IHDR"
    start = data.index(kind)
    length = struct.unpack(">I", data[start - 4 : start])[0]
    data[start + 4 + length] ^= 0xFF
    return bytes(data)


def many_frames_gif(frames: int = 1000, seed: int = 0) -> bytes:
    """A GIF of ``frames`` 1x1 frames, built by hand so writing it costs nothing."""
    rng = random.Random(seed)
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0))
    out += rng.randbytes(6)  # two-colour global colour table
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    out += frame * frames + b"\x3b"
    return bytes(out)


def _random_bytes(seed: int) -> bytes:
    data = bytearray(random.Random(seed).randbytes(256 + seed % 97))
    data[0] = 0xFE  # no magic number starts with 0xFE
    data[1] = 0x00  # and a NUL keeps it from reading as text
    return bytes(data)


def _bad_content(kind: str, seed: int) -> bytes:
    makers: dict[str, Callable[[], bytes]] = {
        "empty": lambda: b"",
        "truncated-png": lambda: _cut(encode(noise(seed), "PNG"), seed),
        "truncated-jpeg": lambda: _cut(encode(noise(seed), "JPEG"), seed),
        "random-png": lambda: _random_bytes(seed),
        "random-jpeg": lambda: _random_bytes(seed + 1_000_000),
        "text": lambda: f"not an image, file {seed}\n".encode() * 8,
        "bomb-png": lambda: bomb_png(seed=seed),
        "bad-crc-png": lambda: bad_crc_png(seed),
        "many-frames-gif": lambda: many_frames_gif(seed=seed),
        "pdf": lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n% " + str(seed).encode(),
        "zip": lambda: _zip(seed),
        "mp4": lambda: b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + str(seed).encode(),
        "svg": lambda: f'<svg xmlns="http://www.w3.org/2000/svg" id="s{seed}"/>'.encode(),
        "truncated-gif": lambda: _cut(encode(noise(seed, mode="L"), "GIF"), seed),
    }
    return makers[kind]()


def _cut(data: bytes, seed: int) -> bytes:
    return data[: len(data) * (30 + seed % 50) // 100]


def _zip(seed: int) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", f"archive {seed}")
    return buffer.getvalue()


def make_bad_files(directory: Path, count: int = 100) -> dict[Path, str]:
    """Write ``count`` hostile files cycling through :data:`BAD_KINDS`; path → expected reason."""
    directory.mkdir(parents=True, exist_ok=True)
    expected: dict[Path, str] = {}
    for index in range(count):
        kind, extension, reason = BAD_KINDS[index % len(BAD_KINDS)]
        path = directory / f"bad-{index:04d}-{kind}.{extension}"
        path.write_bytes(_bad_content(kind, index))
        expected[path] = reason
    return expected


def make_good_files(directory: Path, count: int = 10) -> dict[Path, str]:
    """Write ``count`` valid images cycling through :data:`GOOD_FORMATS`; path → media type.

    Sizes differ per file and are encoded in the name (``good-0003-51x35.gif``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    expected: dict[Path, str] = {}
    for index in range(count):
        fmt, extension, media_type = GOOD_FORMATS[index % len(GOOD_FORMATS)]
        width, height = 40 + index % 29, 24 + index % 17
        image = noise(10_000 + index, (width, height))
        path = directory / f"good-{index:04d}-{width}x{height}.{extension}"
        path.write_bytes(encode(image, fmt))
        expected[path] = media_type
    return expected


def good_size(path: Path) -> tuple[int, int]:
    """The (width, height) encoded in a good file's name."""
    width, height = path.stem.rsplit("-", 1)[1].split("x")
    return int(width), int(height)
