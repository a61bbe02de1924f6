"""The hostile corpus: files of every kind an attacker or a careless uploader sends.

Used by the reduced CI run (tests/ray_jobs/test_hostile_corpus.py) and by the full bench
(bench/hostile.py); it imports neither ``tests`` nor anything but the standard library and
Pillow, so both can use it. :func:`build_corpus` writes ``count`` files cycling through
:data:`KINDS` (each file's bytes distinct, so content addressing does not fold them), and
returns a manifest: for every path the walk will meet, the kind and the line it must get
(``ok``, or ``error`` with a reason). :func:`cached_corpus` builds a corpus once per
parameters under a cache folder and reuses it (a test session, or bench runs).

Kinds that cannot exist on every file system (FIFOs, sockets, non-UTF-8 names, links to
devices) are written where the platform allows and left out of the manifest otherwise.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Expected:
    """What one path of the corpus must get: its kind, status and error reason."""

    kind: str
    status: str
    reason: str | None = None


def _noise(seed: int, size: tuple[int, int] = (40, 30)) -> Image.Image:
    rng = random.Random(seed)
    return Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))


def _png(seed: int, info: PngImagePlugin.PngInfo | None = None) -> bytes:
    buffer = io.BytesIO()
    _noise(seed).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    _noise(seed).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def chunk(kind: bytes, body: bytes, *, crc: int | None = None) -> bytes:
    """A PNG chunk; ``crc`` overrides the correct CRC."""
    value = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", value & 0xFFFFFFFF)


def with_chunks(png: bytes, *chunks: bytes) -> bytes:
    """``png`` with ``chunks`` inserted right after its IHDR."""
    cut = len(PNG_SIGNATURE) + 25
    return png[:cut] + b"".join(chunks) + png[cut:]


def bad_crc_text_png(seed: int) -> bytes:
    """A valid PNG whose tEXt comment has a wrong CRC (libpng and browsers decode it)."""
    body = f"Comment\x00hello {seed}".encode()
    return with_chunks(_png(seed), chunk(b"tEXt", body, crc=zlib.crc32(b"tEXt" + body) ^ 1))


def _ztxt(seed: int, method: int, text: bytes) -> bytes:
    return with_chunks(_png(seed), chunk(b"zTXt", b"Comment\x00" + bytes([method]) + text))


def big_ztxt_png(seed: int) -> bytes:
    """A zTXt chunk that inflates past Pillow's 1 MB text limit (2 MB of spaces)."""
    return _ztxt(seed, 0, zlib.compress(b" " * (2 * 1024 * 1024)))


def unknown_method_ztxt_png(seed: int) -> bytes:
    return _ztxt(seed, 7, zlib.compress(b"x" * 10))


def _text_png(seed: int, key: str, value: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt(key, value)
    return _png(seed, info)


def comfyui_numbers_png(seed: int) -> bytes:
    """A ComfyUI prompt graph whose sampler carries numbers JSON and JSONB disagree on."""
    prompt = (
        '{"3": {"class_type": "KSampler", "inputs": {"seed": 6952411511246973023, '
        '"cfg": 1e23, "steps": 1e308, "denoise": -0.0, "noise": 18446744073709551615, '
        f'"sampler_name": "euler", "scheduler": "n{seed}"}}}}}}'
    )
    return _text_png(seed, "prompt", prompt)


def a1111_seed_png(seed: int) -> bytes:
    return _text_png(
        seed,
        "parameters",
        f"a cat {seed}\nSteps: 20, Sampler: Euler a, CFG scale: 1e308, "
        "Seed: 6952411511246973023, Size: 40x30, Model: x",
    )


def control_chars_png(seed: int) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", f"nul\x00inside\x01\x02\x1b[31mred {seed}")
    info.add_itxt("Description", "<script>alert(1)</script> **bold** [x](javascript:alert(1))")
    return _png(seed, info)


def deep_json_png(seed: int) -> bytes:
    depth = 3000
    graph = (
        '{"3": {"class_type": "KSampler", "inputs": {"seed": '
        + str(seed)
        + ', "cfg": '
        + "[" * depth
        + "1"
        + "]" * depth
        + "}}}"
    )
    return _text_png(seed, "prompt", graph)


def many_chunks_png(seed: int, count: int = 100_001) -> bytes:
    """More empty ancillary chunks than intake walks (1.3 M of them took 49 s before)."""
    empty = chunk(b"zzZz", b"")
    return with_chunks(_png(seed), empty * count)


def many_blocks_gif(seed: int, count: int = 30_000) -> bytes:
    """A GIF of one pixel preceded by ``count`` empty comment extensions."""
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    tag = str(seed).encode()
    comments = b"\x21\xfe" + bytes([len(tag)]) + tag + b"\x00" + b"\x21\xfe\x00" * count
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return header + comments + frame + b"\x3b"


def bomb_png(seed: int) -> bytes:
    """A PNG declaring 100000 x 100000 pixels with almost no data."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000 + seed % 7, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def huge_pixels_png(seed: int) -> bytes:
    """7999 x 7999 RGB (under the pixel limit), about 250 KB on disk, 64 M pixels (192 MB)
    decoded."""
    width = height = 7999
    row = b"\x00" + bytes([seed % 256, 80, 160]) * width
    raw = zlib.compress(row * height, 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def bad_crc_idat_png(seed: int) -> bytes:
    data = bytearray(_png(seed))
    start = data.index(b"IDAT")
    length = struct.unpack(">I", data[start - 4 : start])[0]
    data[start + 4 + length] ^= 0xFF
    return bytes(data)


def _truncated(data: bytes, seed: int) -> bytes:
    return data[: len(data) // 2 + seed % 7]


def polyglot_png_zip(seed: int) -> bytes:
    """A PNG with a ZIP archive appended after IEND."""
    zip_part = b"PK\x03\x04" + bytes(26) + f"payload-{seed}".encode()
    return _png(seed) + zip_part


def jpeg_trailing(seed: int) -> bytes:
    return _jpeg(seed) + b"<?php echo 'hi'; ?>" + str(seed).encode()


#: Kinds written as regular files: (kind, file suffix, maker, status, reason).
FILE_KINDS: tuple[tuple[str, str, Callable[[int], bytes], str, str | None], ...] = (
    ("good-png", "png", _png, "ok", None),
    ("good-jpeg", "jpg", _jpeg, "ok", None),
    ("zero-byte", "png", lambda seed: b"", "error", "empty"),
    ("truncated-png", "png", lambda s: _truncated(_png(s), s), "error", "truncated"),
    ("truncated-jpeg", "jpg", lambda s: _truncated(_jpeg(s), s), "error", "truncated"),
    ("random-bytes", "png", lambda s: random.Random(s).randbytes(700), "error", "not-an-image"),
    ("text-as-png", "png", lambda s: f"hello {s}\n".encode() * 9, "error", "not-an-image"),
    ("bomb-png", "png", bomb_png, "error", "decompression-bomb"),
    ("bad-crc-idat", "png", bad_crc_idat_png, "error", "corrupt"),
    ("bad-crc-text", "png", bad_crc_text_png, "ok", None),
    ("ztxt-over-1mb", "png", big_ztxt_png, "ok", None),
    ("ztxt-unknown-method", "png", unknown_method_ztxt_png, "ok", None),
    ("polyglot-png-zip", "png", polyglot_png_zip, "ok", None),
    ("jpeg-trailing-data", "jpg", jpeg_trailing, "ok", None),
    ("many-chunks-png", "png", many_chunks_png, "error", "too-many-chunks"),
    ("many-blocks-gif", "gif", many_blocks_gif, "error", "too-many-chunks"),
    ("comfyui-huge-numbers", "png", comfyui_numbers_png, "ok", None),
    ("a1111-64bit-seed", "png", a1111_seed_png, "ok", None),
    ("control-chars-markup", "png", control_chars_png, "ok", None),
    ("deep-json", "png", deep_json_png, "ok", None),
)

#: Kinds that cost a lot to decode: only in the full corpus.
HEAVY_KINDS: tuple[tuple[str, str, Callable[[int], bytes], str, str | None], ...] = (
    ("huge-pixels-png", "png", huge_pixels_png, "ok", None),
)

#: Kinds that are not plain files, written once per corpus.
SPECIAL_KINDS = (
    "non-utf8-name",
    "hidden-file",
    "fifo",
    "link-dev-zero",
    "link-dev-urandom",
    "dangling-link",
    "self-loop-link",
    "link-to-folder",
    "socket",
    "sparse-too-large",
)


def build_corpus(
    root: Path, count: int, *, heavy: bool = False, max_bytes: int = 64 * 1024 * 1024
) -> dict[bytes, Expected]:
    """Write a corpus of about ``count`` files under ``root``; return its manifest, keyed by
    each path's bytes (``os.fsencode``) so names that are not UTF-8 are keys too."""
    root.mkdir(parents=True, exist_ok=True)
    kinds = FILE_KINDS + (HEAVY_KINDS if heavy else ())
    manifest: dict[bytes, Expected] = {}
    for number in range(max(0, count - len(SPECIAL_KINDS))):
        kind, suffix, maker, status, reason = kinds[number % len(kinds)]
        folder = root / kind
        folder.mkdir(exist_ok=True)
        path = folder / f"{number:05d}.{suffix}"
        path.write_bytes(maker(number))
        manifest[os.fsencode(path)] = Expected(kind, status, reason)
    manifest.update(_specials(root / "special", max_bytes))
    return manifest


def _specials(folder: Path, max_bytes: int) -> dict[bytes, Expected]:
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[bytes, Expected] = {}
    not_regular = ("error", "not-a-regular-file")

    def add(path: Path | bytes, kind: str, status: str, reason: str | None) -> None:
        out[os.fsencode(path)] = Expected(kind, status, reason)

    name = os.fsencode(folder) + b"/latin1-\xe9.jpg"
    try:
        with open(name, "wb") as handle:
            handle.write(_jpeg(90_001))
        add(name, "non-utf8-name", "ok", None)
    except OSError:
        pass  # a file system that insists on UTF-8 names
    (folder / ".hidden.png").write_bytes(_png(90_002))
    add(folder / ".hidden.png", "hidden-file", "ok", None)
    links = {
        "link-dev-zero": "/dev/zero",
        "link-dev-urandom": "/dev/urandom",
        "dangling-link": str(folder / "nowhere.png"),
        "self-loop-link": None,
        "link-to-folder": str(folder.parent),
    }
    for kind, target in links.items():
        path = folder / f"{kind}.png"
        try:
            os.symlink(path if target is None else target, path)
        except OSError:
            continue
        add(path, kind, *not_regular)
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "fifo.png")
        add(folder / "fifo.png", "fifo", *not_regular)
    sock_path = folder / "s.png"
    if len(os.fsencode(sock_path)) < 100:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.bind(str(sock_path))
            add(sock_path, "socket", *not_regular)
        except OSError:
            pass
        finally:
            server.close()  # the socket file stays behind: that is the point
    sparse = folder / "sparse-too-large.png"
    with sparse.open("wb") as handle:
        handle.write(_png(90_003))
        handle.truncate(max_bytes + 1)
    add(sparse, "sparse-too-large", "error", "too-large")
    return out


def cached_corpus(
    cache: Path, count: int, *, heavy: bool = False, max_bytes: int = 64 * 1024 * 1024
) -> tuple[Path, dict[bytes, Expected]]:
    """A corpus built once per parameters under ``cache`` (rebuilt if incomplete)."""
    root = cache / f"hostile-{count}-{'heavy' if heavy else 'light'}-{max_bytes}"
    manifest_file = root / "manifest.json"
    if manifest_file.is_file():
        stored = json.loads(manifest_file.read_text())
        return root / "files", {
            bytes.fromhex(key): Expected(**value) for key, value in stored.items()
        }
    if root.exists():
        shutil.rmtree(root)
    manifest = build_corpus(root / "files", count, heavy=heavy, max_bytes=max_bytes)
    manifest_file.write_text(
        json.dumps({key.hex(): vars(value) for key, value in manifest.items()})
    )
    return root / "files", manifest
