"""PDQ / pHash signals: hex round trips, Hamming helpers, dihedral variants, quality."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from detectors.copy import signals
from detectors.testing.copy_fixtures import reference_images


def test_hex_round_trip_and_errors() -> None:
    rng = np.random.default_rng(0)
    code = rng.integers(0, 256, 32, dtype=np.uint8)
    text = signals.code_to_hex(code)
    assert len(text) == 64
    assert np.array_equal(signals.hex_to_code(text), code)
    assert signals.hex_to_codes([text, text]).shape == (2, 32)
    with pytest.raises(signals.SignalError):
        signals.hex_to_code("ab")
    with pytest.raises(signals.SignalError):
        signals.hex_to_code("zz" * 32)


def test_hamming_matches_bit_count() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 256, (2, 32), dtype=np.uint8)
    expected = int(np.unpackbits(a ^ b).sum())
    assert signals.hamming(a, b) == expected
    matrix = signals.hamming_matrix(np.stack([a, b]), np.stack([b, a, a]))
    assert matrix.tolist() == [[expected, 0, 0], [0, expected, expected]]
    with pytest.raises(signals.SignalError):
        signals.hamming(a, a[:8])


def test_pdq_hex_matches_threatexchange_convention() -> None:
    import io

    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

    image = reference_images()["coffee"]
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    te_hex, te_quality = pdq_from_bytes(buffer.getvalue())
    ours = signals.pdq(image)
    assert ours.hex == te_hex and ours.quality == te_quality and ours.trusted


def test_dihedral_variants_match_flips_and_rotations() -> None:
    image = reference_images()["astronaut"]
    variants = signals.pdq_dihedral(image)
    assert len(variants) == len(signals.DIHEDRAL_NAMES) == 8
    assert variants[0].hex == signals.pdq(image).hex
    ops = {
        "rotate90": Image.Transpose.ROTATE_90,
        "rotate180": Image.Transpose.ROTATE_180,
        "flip_horizontal": Image.Transpose.FLIP_LEFT_RIGHT,
        "flip_vertical": Image.Transpose.FLIP_TOP_BOTTOM,
    }
    for name, op in ops.items():
        edited = signals.pdq(image.transpose(op)).code
        distances = [signals.hamming(edited, v.code) for v in variants]
        assert int(np.argmin(distances)) == signals.DIHEDRAL_NAMES.index(name)
        assert min(distances) <= signals.PDQ_MATCH_THRESHOLD
        assert signals.hamming(edited, variants[0].code) > signals.PDQ_MATCH_THRESHOLD


def test_flat_image_has_untrusted_quality() -> None:
    flat = signals.pdq(Image.new("RGB", (200, 200), (120, 120, 120)))
    assert flat.quality < signals.PDQ_MIN_QUALITY and not flat.trusted


def test_phash_is_64_bits_and_stable_under_jpeg() -> None:
    from detectors.testing.copy_fixtures import jpeg

    image = reference_images()["rocket"]
    a, b = signals.phash(image), signals.phash(jpeg(image))
    assert a.shape == (8,) and a.dtype == np.uint8
    assert signals.hamming(a, b) <= signals.PHASH_MATCH_THRESHOLD
