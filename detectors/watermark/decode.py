"""Decode invisible-watermark marks once per (method, channel order, array type), for every payload.

invisible-watermark's decoders score each 4x4 block of the U-channel Haar approximation
independently and then average the scores of blocks ``i, i + n, i + 2n, ...`` into bit ``i``
of an ``n``-bit payload. The per-block scores do not depend on ``n``. So we ask the library
for one "payload" as long as the block count (each block is then its own bit: the raw block
scores) and fold them for every payload length ourselves, with the library's own rule
(bit = 1 iff mean score * 255 > 127). One library decode per (method, order, domain) serves
all payloads of that method, however many are registered.

For ``dwtDct`` (every built-in payload) we compute those block scores ourselves, vectorised
with numpy, instead of through the library's Python loop over blocks: same OpenCV colour
conversion, same PyWavelets transform, same rule per block (largest-magnitude non-DC
coefficient modulo the scale), about 10x faster, and a test checks it against
``WatermarkDecoder.decode`` bit for bit. ``dwtDctSvd`` goes through the library.

Soft scores (dwtDct): the encoder moves each block's strongest coefficient to
``(q + 0.25) * scale`` for a 0 and ``(q + 0.75) * scale`` for a 1. With ``r`` the coefficient's
position inside its cell (``|c| mod scale / scale``), ``-sin(2 pi r)`` is -1 at a perfect 0,
+1 at a perfect 1, and near 0 for a coefficient halfway between: its sign is the library's
hard decision (``r > 0.5``) and its size how clearly the block voted. Folding averages them
per bit (see :mod:`detectors.watermark.soft`).

Large images: blocks are numbered row-major over the full width, so a band of whole block
rows at the top keeps every block's index. We decode such a band of at most ``max_pixels``
pixels; it still gives each bit hundreds of votes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pywt

from detectors.watermark.payloads import DOMAINS

MIN_PIXELS = 256 * 256
"""invisible-watermark refuses images with fewer pixels (``rows * cols < 256 * 256``)."""

ORDERS = ("bgr", "rgb")
"""Channel order of the array handed to the encoder: ``bgr`` as the cv2-based reference
scripts do, ``rgb`` as pipelines that pass an RGB array straight to ``encode``."""

_BAND_ALIGN = 8  # one block row = 4 rows of the Haar approximation = 8 pixel rows
_BLOCK = 4
_DWTDCT_SCALE = 36.0  # invisible-watermark's dwtDct default; it only reads YUV channel 1 (U)
_U = 1


def block_count(height: int, width: int) -> int:
    """How many 4x4 blocks the library reads from an image of this size."""
    return ((height // 4 * 2) // 4) * ((width // 4 * 2) // 4)


def band_height(height: int, width: int, max_pixels: int) -> int:
    """Rows to decode: the whole image, or a top band of whole block rows of ~max_pixels."""
    if height * width <= max_pixels:
        return height
    rows = -(-max_pixels // width)  # ceil
    rows = -(-rows // _BAND_ALIGN) * _BAND_ALIGN
    return min(height, max(rows, _BAND_ALIGN))


@dataclass(frozen=True)
class BlockScores:
    """Raw per-block bits from one library decode."""

    method: str
    order: str
    domain: str
    scores: np.ndarray  # bool, one entry per block, in the library's block order
    soft: np.ndarray | None = None  # float in [-1, 1] per block (dwtDct only)

    def fold(self, n: int) -> tuple[int, ...]:
        """The ``n``-bit payload the library would decode from these blocks."""
        blocks = self.scores.shape[0]
        if blocks < n:
            raise ValueError(f"{blocks} blocks cannot carry {n} bits")
        index = np.arange(blocks) % n
        votes = np.bincount(index, minlength=n)
        ones = np.bincount(index, weights=self.scores.astype(np.float64), minlength=n)
        # Library rule: mean * 255 > 127, kept in exact integer-valued arithmetic.
        return tuple(int(bit) for bit in ones * 255 > votes * 127)

    def fold_soft(self, n: int) -> np.ndarray | None:
        """Per-bit mean soft score for an ``n``-bit payload (None without soft scores)."""
        if self.soft is None:
            return None
        blocks = self.soft.shape[0]
        if blocks < n:
            raise ValueError(f"{blocks} blocks cannot carry {n} bits")
        index = np.arange(blocks) % n
        sums = np.bincount(index, weights=self.soft, minlength=n)
        return np.asarray(sums / np.bincount(index, minlength=n), dtype=np.float64)


def decode_blocks(rgb: np.ndarray, method: str, order: str, domain: str = "uint8") -> BlockScores:
    """Run invisible-watermark's decoder on ``rgb`` (H x W x 3 uint8).

    ``order`` is the channel order and ``domain`` the array type (uint8 or float32) the
    decoder is handed: the ones the encoder was handed when the mark was embedded.
    """
    if order not in ORDERS:
        raise ValueError(f"unknown channel order {order!r}")
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}")
    height, width = rgb.shape[:2]
    array = np.ascontiguousarray(rgb[:, :, ::-1] if order == "bgr" else rgb, dtype=domain)
    if method == "dwtDct":
        residue = _dwtdct_residues(array)
        return BlockScores(
            method,
            order,
            domain,
            residue > 0.5 * _DWTDCT_SCALE,
            -np.sin(2.0 * np.pi * residue / _DWTDCT_SCALE),
        )
    # imwatermark's package import pulls torch (for RivaGAN): only this method needs it.
    from imwatermark import WatermarkDecoder

    decoder = WatermarkDecoder("bits", block_count(height, width))
    scores = np.asarray(decoder.decode(array, method), dtype=bool).reshape(-1)
    return BlockScores(method, order, domain, scores)


def _dwtdct_residues(bgr: np.ndarray) -> np.ndarray:
    """Per-block ``|c| mod scale`` of the strongest AC coefficient ``c``.

    ``imwatermark.maxDct.EmbedMaxDct.decode`` reads bit 1 iff this exceeds ``scale / 2``.
    """
    rows, cols = bgr.shape[:2]
    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)
    approx, _ = pywt.dwt2(yuv[: rows // 4 * 4, : cols // 4 * 4, _U], "haar")
    brows, bcols = approx.shape[0] // _BLOCK, approx.shape[1] // _BLOCK
    blocks = (
        approx[: brows * _BLOCK, : bcols * _BLOCK]
        .reshape(brows, _BLOCK, bcols, _BLOCK)
        .transpose(0, 2, 1, 3)
        .reshape(brows * bcols, _BLOCK * _BLOCK)
    )
    ac = blocks[:, 1:]  # the library skips the first (DC) coefficient of each block
    strongest = np.abs(ac[np.arange(ac.shape[0]), np.argmax(np.abs(ac), axis=1)])
    return np.asarray(strongest % _DWTDCT_SCALE, dtype=np.float64)
