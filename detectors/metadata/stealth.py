"""Decode the "stealth pnginfo" copy hidden in the least significant bits of the pixels.

The format (the AUTOMATIC1111 ``stealth-pnginfo`` extension, and NovelAI, whose published
``lsb_extractor`` reads the same layout): pixels are visited column by column (x outer,
y inner); in alpha mode each pixel gives the LSB of its alpha value, in RGB mode the LSBs
of R, G and B in that order. The bit stream is a 15-byte signature — ``stealth_pnginfo``
or ``stealth_pngcomp`` (alpha), ``stealth_rgbinfo`` or ``stealth_rgbcomp`` (RGB) — then a
32-bit big-endian payload length counted in bits, then the payload: UTF-8 text, gzip
compressed for the ``comp`` signatures. NovelAI's payload is a JSON object holding its PNG
text chunks; the A1111 extension's is the ``parameters`` text.

Written here (no library implements it) with numpy over only the columns the bits occupy,
so a large image costs a few column crops, and with the payload and its decompressed size
capped.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

SIGNATURES = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
SIG_BITS = 15 * 8
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024


class StealthError(Exception):
    """A stealth signature was found but the payload after it is malformed."""


@dataclass(frozen=True)
class StealthPayload:
    """A decoded hidden payload."""

    mode: str
    compressed: bool
    text: str


class _BitReader:
    """Reads the LSB stream of one channel group in column-major pixel order."""

    def __init__(self, image: Image.Image, mode: str) -> None:
        self.image = image
        self.mode = mode
        self.per_pixel = 1 if mode == "alpha" else 3
        self.height = image.height
        self.total = image.width * image.height * self.per_pixel

    def read(self, start: int, count: int) -> bytes:
        if start + count > self.total:
            raise StealthError("payload runs past the end of the image")
        per_column = self.height * self.per_pixel
        x0 = start // per_column
        x1 = (start + count - 1) // per_column + 1
        crop = self.image.crop((x0, 0, x1, self.height))
        if self.mode == "alpha":
            values = np.asarray(crop.getchannel("A"))[:, :, None]
        else:
            values = np.asarray(crop.convert("RGB"))
        stream = np.ascontiguousarray(values.transpose(1, 0, 2)).reshape(-1)
        offset = start - x0 * per_column
        bits = stream[offset : offset + count] & 1
        return np.packbits(bits.astype(np.uint8)).tobytes()


def read_stealth(image: Image.Image | None) -> StealthPayload | None:
    """The hidden payload of ``image``, ``None`` when there is no signature.

    Raises :class:`StealthError` when a signature is present but the payload is malformed.
    """
    if image is None or image.width * image.height == 0:
        return None
    modes = []
    if "A" in image.getbands():
        modes.append("alpha")
    if image.mode in ("RGB", "RGBA"):  # the only modes the writers embed RGB bits in
        modes.append("rgb")
    for mode in modes:
        reader = _BitReader(image, mode)
        if reader.total < SIG_BITS + 32:
            continue
        found = SIGNATURES.get(reader.read(0, SIG_BITS))
        if found is None or found[0] != mode:
            continue
        return _payload(reader, found[1])
    return None


def _payload(reader: _BitReader, compressed: bool) -> StealthPayload:
    length_bits = int.from_bytes(reader.read(SIG_BITS, 32), "big")
    if length_bits == 0 or length_bits % 8:
        raise StealthError(f"payload length {length_bits} bits is not a whole number of bytes")
    if length_bits // 8 > MAX_PAYLOAD_BYTES:
        raise StealthError(f"payload of {length_bits // 8} bytes is over the limit")
    raw = reader.read(SIG_BITS + 32, length_bits)
    if compressed:
        inflater = zlib.decompressobj(wbits=31)  # gzip framing
        try:
            raw = inflater.decompress(raw, MAX_PAYLOAD_BYTES + 1)
        except zlib.error as exc:
            raise StealthError(f"bad gzip payload: {exc}") from exc
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise StealthError("decompressed payload is over the limit")
        if not inflater.eof:
            raise StealthError("gzip payload is truncated")
    return StealthPayload(reader.mode, compressed, raw.decode("utf-8", "replace"))
