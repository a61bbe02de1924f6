"""Perceptual hash signals for copy detection: PDQ (primary) and pHash (secondary).

PDQ comes from the ``pdqhash`` package (Meta's reference implementation). A hash is 256 bits,
held here as ``numpy.uint8[32]`` packed most-significant bit first, so ``bytes(code).hex()``
is the same 64-character hex string ThreatExchange and the PDQ reference tools print.

PDQ also reports a quality score in 0..100. Meta's guidance is that hashes with quality
below 50 come from flat or featureless images and match unrelated content too easily;
:attr:`PDQHash.trusted` exposes that so callers can refuse to decide on them.

The eight dihedral variants (identity, rotations by 90/180/270 degrees, and the mirror of
each) are computed in one pass by ``pdqhash.compute_dihedral``; indexing the reference and
querying with all eight makes flips and quarter-turns match.

pHash (``imagehash.phash``, 64 bits) is a second, independent signal with its own
threshold; it is weaker than PDQ and is reported alongside it, never on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import imagehash
import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image

PDQ_BITS: Final = 256
PDQ_BYTES: Final = PDQ_BITS // 8
PDQ_MATCH_THRESHOLD: Final = 31
"""Hamming distance at or below which two PDQ hashes are a match (Meta's recommended value)."""
PDQ_MIN_QUALITY: Final = 50
"""PDQ quality below this means the hash is not trusted for matching."""
PHASH_BITS: Final = 64
PHASH_MATCH_THRESHOLD: Final = 10
"""Hamming distance at or below which two 64-bit pHashes are reported as a match."""

DIHEDRAL_NAMES: Final = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flip_vertical",
    "flip_horizontal",
    "transpose",
    "transverse",
)
"""Names of the eight variants, in the order ``pdqhash.compute_dihedral`` returns them.

Rotations are counter-clockwise (Pillow's ``Transpose.ROTATE_90`` convention). The variants
are computed from DCT symmetries, so a variant lies within a few bits (typically under 20)
of the hash of the actually rotated image, not always at distance 0.
"""

HashArray = npt.NDArray[np.uint8]

_POPCOUNT: Final = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


class SignalError(ValueError):
    """A hash could not be computed or parsed (bad hex, wrong length, unusable image)."""


@dataclass(frozen=True)
class PDQHash:
    """One PDQ hash with its quality score."""

    code: HashArray
    quality: int

    @property
    def hex(self) -> str:
        """The 64-character lowercase hex form."""
        return code_to_hex(self.code)

    @property
    def trusted(self) -> bool:
        """Whether the quality is high enough (>= :data:`PDQ_MIN_QUALITY`) to match on."""
        return self.quality >= PDQ_MIN_QUALITY


def hex_to_code(text: str, bits: int = PDQ_BITS) -> HashArray:
    """Parse a hex hash into a packed ``uint8`` array of ``bits // 8`` bytes."""
    if len(text) != bits // 4:
        raise SignalError(f"expected {bits // 4} hex characters, got {len(text)}")
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise SignalError(f"not a hex string: {text[:16]!r}...") from exc
    return np.frombuffer(raw, dtype=np.uint8).copy()


def code_to_hex(code: HashArray) -> str:
    """The lowercase hex form of a packed hash."""
    return bytes(np.ascontiguousarray(code, dtype=np.uint8)).hex()


def hex_to_codes(texts: list[str], bits: int = PDQ_BITS) -> HashArray:
    """Parse many hex hashes into an ``(n, bits // 8)`` ``uint8`` array."""
    if not texts:
        return np.zeros((0, bits // 8), dtype=np.uint8)
    return np.stack([hex_to_code(t, bits) for t in texts])


def hamming(a: HashArray, b: HashArray) -> int:
    """Hamming distance between two packed hashes of the same length."""
    if a.shape != b.shape:
        raise SignalError(f"hash shapes differ: {a.shape} vs {b.shape}")
    return int(_POPCOUNT[np.bitwise_xor(a, b)].sum())


def hamming_matrix(queries: HashArray, refs: HashArray) -> npt.NDArray[np.int32]:
    """All pairwise distances, shape ``(len(queries), len(refs))``; a brute-force oracle.

    Memory is ``len(queries) * len(refs) * 32`` bytes at peak: chunk the queries for big sets.
    """
    xor = np.bitwise_xor(queries[:, None, :], refs[None, :, :])
    return np.asarray(_POPCOUNT[xor].sum(axis=2, dtype=np.int32), dtype=np.int32)


def _pdq_input(image: Image.Image) -> npt.NDArray[np.uint8]:
    if image.width < 1 or image.height < 1:
        raise SignalError("image has no pixels")
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _pack(bits: npt.NDArray[np.integer]) -> HashArray:
    return np.packbits(np.asarray(bits, dtype=np.uint8).reshape(-1)[:PDQ_BITS])


def pdq(image: Image.Image) -> PDQHash:
    """PDQ hash and quality of ``image`` (any Pillow mode; converted to RGB)."""
    bits, quality = pdqhash.compute(_pdq_input(image))
    return PDQHash(_pack(bits), int(quality))


def pdq_dihedral(image: Image.Image) -> list[PDQHash]:
    """The eight dihedral PDQ hashes of ``image``, in :data:`DIHEDRAL_NAMES` order."""
    vectors, quality = pdqhash.compute_dihedral(_pdq_input(image))
    return [PDQHash(_pack(v), int(quality)) for v in vectors]


def phash(image: Image.Image) -> HashArray:
    """64-bit DCT perceptual hash (imagehash.phash) packed into 8 bytes."""
    value = imagehash.phash(image.convert("RGB"))
    return np.packbits(np.asarray(value.hash, dtype=np.uint8).reshape(-1))
