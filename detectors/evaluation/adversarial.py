"""Adversarial attacks: forging provenance onto real photos, and removing a fixed watermark.

- ``metadata-forge``: copy a generator's PNG text chunks (``shared["metadata-forge"]``: the
  bytes of a generated PNG) onto a real photo;
- ``c2pa-transplant``: copy the C2PA manifest store (the PNG ``caBX`` chunk or the JPEG APP11
  segments) of a signed generated image (``shared["c2pa-transplant"]``) into a real photo;
- ``watermark-spoof``: stamp the public SDXL payload (or any ``Payload`` in
  ``shared["watermark-spoof"]``) onto a real photo with the same open-source encoder;
- ``averaging``: subtract ``shared["averaging"]``, the mean high-pass residual of many images
  carrying one fixed watermark, i.e. an estimate of the mark itself (Yang et al. 2024).

The chunk and segment surgery is written here (a few lines of container walking) because no
kept library copies raw chunks between files unchanged, which is exactly what a forger does.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import cv2
import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from detectors.evaluation.attacks import AttackContext, AttackFn
from detectors.evaluation.imaging import decode_rgb, encode, from_array, to_array

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """``(type, body)`` of every chunk of a PNG (stops at a truncated chunk)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if len(body) < length:
            break
        chunks.append((ctype, body))
        offset += 12 + length
    return chunks


def png_insert(data: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes:
    """``data`` (a PNG) with ``chunks`` inserted right after IHDR, CRCs recomputed."""
    out = [PNG_SIGNATURE]
    for ctype, body in png_chunks(data):
        out.append(_chunk(ctype, body))
        if ctype == b"IHDR":
            out.extend(_chunk(t, b) for t, b in chunks)
    return b"".join(out)


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def metadata_forge() -> AttackFn:
    """Copy the donor generator file's text chunks onto the photo (as PNG)."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        forged = ctx.shared["metadata-forge"]
        text = [(t, b) for t, b in png_chunks(forged) if t in (b"tEXt", b"iTXt", b"zTXt")]
        return png_insert(encode(decode_rgb(data)), text)

    return run


def metadata_forge_pillow(parameters: str) -> AttackFn:
    """Write an A1111 ``parameters`` text chunk with Pillow (the one-line forger)."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        info = PngInfo()
        info.add_text("parameters", parameters)
        return encode(decode_rgb(data), "PNG", pnginfo=info)

    return run


def c2pa_transplant() -> AttackFn:
    """Move the donor's C2PA manifest store (``caBX`` chunk) into the photo, as PNG."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        signed = ctx.shared["c2pa-transplant"]
        store = [(t, b) for t, b in png_chunks(signed) if t == b"caBX"]
        if not store:
            raise ValueError("the transplant donor carries no caBX chunk")
        return png_insert(encode(decode_rgb(data)), store)

    return run


def watermark_spoof(order: str = "bgr") -> AttackFn:
    """Embed the payload in ``shared["watermark-spoof"]`` with the public encoder."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        from detectors.watermark import embed_payload

        rgb = to_array(decode_rgb(data))
        return encode(Image.fromarray(embed_payload(rgb, ctx.shared["watermark-spoof"], order)))

    return run


def residual(rgb: np.ndarray[Any, Any], sigma: float = 2.0) -> np.ndarray[Any, Any]:
    """High-pass residual: the image minus its Gaussian blur (float)."""
    image = rgb.astype(np.float32)
    return image - cv2.GaussianBlur(image, (0, 0), sigma)


def averaging_estimate(images: list[np.ndarray[Any, Any]], size: tuple[int, int]) -> Any:
    """Mean residual of ``images`` resized to ``size`` (w, h): the averaging attack's estimate."""
    if not images:
        return np.zeros((size[1], size[0], 3), dtype=np.float32)
    stack = [
        residual(np.asarray(Image.fromarray(a).resize(size, Image.Resampling.BICUBIC)))
        for a in images
    ]
    return np.mean(stack, axis=0)


def averaging(weight: float) -> AttackFn:
    """Subtract ``weight`` times the averaged estimate (resized to the image)."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        image = to_array(decode_rgb(data)).astype(np.float32)
        estimate: Any = np.asarray(ctx.shared["averaging"], dtype=np.float32)
        if estimate.shape != image.shape:
            estimate = cv2.resize(estimate, (image.shape[1], image.shape[0]))
        return encode(from_array(image - weight * estimate))

    return run
