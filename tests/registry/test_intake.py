"""Hardened intake: every bad kind gets its exact reason, good media decodes, nothing raises."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from registry.errors import ConfigurationError, IntakeError
from registry.intake.pipeline import (
    ERROR_REASONS,
    IntakeLimits,
    intake_bytes,
    intake_path,
    iter_media_paths,
)
from registry.intake.sniff import sniff
from registry.testing.badfiles import (
    BAD_KINDS,
    bad_crc_png,
    bomb_png,
    encode,
    good_size,
    make_bad_files,
    make_good_files,
    many_frames_gif,
    noise,
    png_chunk,
)

LIMITS = IntakeLimits()


def test_every_bad_kind_gets_its_exact_reason(tmp_path: Path) -> None:
    expected = make_bad_files(tmp_path, len(BAD_KINDS))
    got = {path: intake_path(path, LIMITS).error for path in expected}
    assert got == expected
    assert set(expected.values()) <= ERROR_REASONS


def test_hundred_bad_files_and_good_files(tmp_path: Path) -> None:
    bad = make_bad_files(tmp_path / "bad", 100)
    good = make_good_files(tmp_path / "good", 10)
    results = [intake_path(path, LIMITS) for path in iter_media_paths([tmp_path])]
    errors = [r for r in results if not r.ok]
    assert len(results) == 110
    assert len(errors) == 100
    assert {Path(r.path or "") for r in errors} == set(bad)
    assert all(r.ok for r in results if Path(r.path or "") in good)


def test_good_files_decode_with_type_and_size(tmp_path: Path) -> None:
    good = make_good_files(tmp_path, 10)
    for path, media_type in good.items():
        result = intake_path(path, LIMITS)
        assert result.ok, result.error_detail
        assert result.media_type == media_type
        assert (result.width, result.height) == good_size(path)
        assert result.frames == 1
        assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert result.sample is not None and result.sample.image is not None
        assert result.sample.image.size == good_size(path)
        assert result.sample.sha256 == result.sha256
        assert result.sample.media_type == media_type


def test_extension_never_decides_the_type(tmp_path: Path) -> None:
    image = noise(5)
    cases = {
        "photo.jpg": (encode(image, "PNG"), "image/png"),
        "photo.png": (encode(image, "JPEG"), "image/jpeg"),
        "anim.webp": (encode(image, "GIF"), "image/gif"),
        "scan.gif": (encode(image, "TIFF"), "image/tiff"),
        "noext": (encode(image, "WEBP"), "image/webp"),
        "picture.bmp.txt": (encode(image, "BMP"), "image/bmp"),
    }
    for name, (data, media_type) in cases.items():
        (tmp_path / name).write_bytes(data)
        result = intake_path(tmp_path / name, LIMITS)
        assert result.ok and result.media_type == media_type, name
    (tmp_path / "notes.jpg").write_text("hello\n")
    assert intake_path(tmp_path / "notes.jpg", LIMITS).error == "not-an-image"


def test_exif_orientation_six_transposes() -> None:
    image = noise(7, (60, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    result = intake_bytes(encode(image, "JPEG", exif=exif.tobytes()), LIMITS)
    assert result.ok and result.sample is not None and result.sample.image is not None
    assert result.sample.image.size == (20, 60)
    assert (result.width, result.height) == (20, 60)
    assert result.sample.image.mode == "RGB"


def test_original_mode_is_kept() -> None:
    for mode in ("L", "RGBA", "P"):
        image = noise(8, mode="L").convert(mode)
        result = intake_bytes(encode(image, "PNG"), LIMITS)
        assert result.sample is not None and result.sample.image is not None
        assert result.sample.image.mode == mode


def test_heic_round_trip() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("libheif here has no HEVC encoder")
    buffer = io.BytesIO()
    pillow_heif.from_pillow(noise(9, (64, 48))).save(buffer, quality=90)
    result = intake_bytes(buffer.getvalue(), LIMITS)
    assert result.ok, result.error_detail
    assert result.media_type == "image/heic"
    assert (result.width, result.height) == (64, 48)


def test_avif_round_trip() -> None:
    from PIL import features

    if not features.check("avif"):
        pytest.skip("Pillow here was built without AVIF support")
    result = intake_bytes(encode(noise(10, (64, 48)), "AVIF"), LIMITS)
    assert result.ok, result.error_detail
    assert result.media_type == "image/avif"
    assert (result.width, result.height) == (64, 48)


def test_declared_bomb_rejected_from_header() -> None:
    result = intake_bytes(bomb_png(), LIMITS)
    assert result.error == "decompression-bomb"
    assert (result.width, result.height) == (50_000, 50_000)
    assert len(bomb_png()) < 200


def test_pillow_bomb_warning_becomes_an_error() -> None:
    # Our own limits are raised out of the way so Pillow's warning is what fires.
    generous = IntakeLimits(max_pixels=10**12, max_dimension=10**6)
    assert Image.MAX_IMAGE_PIXELS is not None
    side = int((Image.MAX_IMAGE_PIXELS * 1.2) ** 0.5)
    result = intake_bytes(bomb_png(side, side), generous)
    assert result.error == "decompression-bomb"
    assert "DecompressionBomb" in (result.error_detail or "")


def test_limits_on_dimension_and_pixels() -> None:
    wide = encode(noise(11, (300, 2)), "PNG")
    assert intake_bytes(wide, IntakeLimits(max_dimension=299)).error == "decompression-bomb"
    assert intake_bytes(wide, IntakeLimits(max_pixels=599)).error == "decompression-bomb"
    assert intake_bytes(wide, IntakeLimits(max_pixels=600, max_dimension=300)).ok


def test_frame_limits() -> None:
    assert intake_bytes(many_frames_gif(1000), LIMITS).error == "too-many-frames"
    small = intake_bytes(many_frames_gif(3), LIMITS)
    assert small.ok and small.frames == 3
    assert intake_bytes(many_frames_gif(5), IntakeLimits(max_frames=4)).error == "too-many-frames"
    frames = [noise(i, (16, 16)) for i in range(5)]
    for fmt in ("TIFF", "WEBP", "PNG"):
        data = encode(frames[0], fmt, save_all=True, append_images=frames[1:])
        assert intake_bytes(data, LIMITS).frames == 5, fmt
        assert intake_bytes(data, IntakeLimits(max_frames=4)).error == "too-many-frames", fmt


def test_bad_crc_caught_in_idat_and_ihdr() -> None:
    for seed in (0, 1):  # even: IDAT CRC (Pillow ignores it), odd: IHDR CRC
        result = intake_bytes(bad_crc_png(seed), LIMITS)
        assert result.error == "corrupt"
        assert "CRC" in (result.error_detail or "")


def test_truncation_is_an_error_even_with_load_truncated_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    png = encode(noise(12), "PNG")
    jpeg = encode(noise(12), "JPEG")
    gif = encode(noise(12, mode="L"), "GIF")
    webp = encode(noise(12), "WEBP")
    for data in (
        png[:-12],
        png[: len(png) // 2],
        jpeg[:-2],
        jpeg[: len(jpeg) // 2],
        gif[:-1],
        webp[:-10],
    ):
        assert intake_bytes(data, LIMITS).error == "truncated"


def _heic(image: Image.Image) -> bytes:
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, quality=80)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["BMP", "WEBP", "AVIF", "HEIF", "TIFF"])
def test_truncation_in_other_formats(fmt: str) -> None:
    from PIL import features

    if fmt == "AVIF" and not features.check("avif"):
        pytest.skip("Pillow here was built without AVIF support")
    image = noise(21, (64, 48))
    data = _heic(image) if fmt == "HEIF" else encode(image, fmt)
    assert intake_bytes(data, LIMITS).ok
    for percent in range(10, 100, 7):
        result = intake_bytes(data[: len(data) * percent // 100], LIMITS)
        assert result.error == "truncated", (percent, result.error_detail)


def test_real_photos_pass() -> None:
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    skimage = pytest.importorskip("skimage")
    folders = [
        Path(sklearn_datasets.__file__).parent / "images",
        Path(skimage.__file__).parent / "data",
    ]
    photos = [p for f in folders for p in sorted(f.glob("*")) if p.suffix in {".jpg", ".png"}]
    assert len(photos) >= 10
    for photo in photos:
        result = intake_path(photo, LIMITS)
        assert result.ok, (photo.name, result.error_detail)


def test_png_without_iend_is_truncated() -> None:
    png = encode(noise(13), "PNG")
    assert png.endswith(png_chunk(b"IEND", b""))
    assert intake_bytes(png[:-12], LIMITS).error == "truncated"


def test_zero_width_png_is_corrupt() -> None:
    ihdr = struct.pack(">IIBBBBB", 0, 10, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")
    assert intake_bytes(data, LIMITS).error == "corrupt"


def test_too_large_without_reading_it_all(tmp_path: Path) -> None:
    data = encode(noise(14), "PNG")
    path = tmp_path / "big.png"
    path.write_bytes(data)
    limits = IntakeLimits(max_bytes=len(data) - 1)
    from_path = intake_path(path, limits)
    assert from_path.error == "too-large"
    assert from_path.size_bytes == len(data)
    assert from_path.media_type == "image/png"
    assert from_path.sha256 == ""  # decided from stat: never hashed (an 8 GiB file costs a read)
    from_bytes = intake_bytes(data, limits)
    assert from_bytes.error == "too-large" and from_bytes.size_bytes == len(data)
    assert intake_path(path, IntakeLimits(max_bytes=len(data))).ok


def test_too_large_file_is_never_held_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as handle:  # sparse: 1 GiB on paper, nothing on disk
        handle.write(encode(noise(22), "PNG"))
        handle.truncate(1 << 30)
    reads: list[int] = []
    real_fdopen = os.fdopen

    class CountingReader(io.BufferedReader):
        def read(self, size: int | None = -1, /) -> bytes:
            reads.append(-1 if size is None else size)
            return super().read(size)

    def counting_fdopen(fd: int, mode: str = "r") -> io.BufferedReader:
        assert mode == "rb"
        return CountingReader(real_fdopen(fd, "rb", buffering=0))  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fdopen", counting_fdopen)
    result = intake_path(path, LIMITS)
    assert result.error == "too-large" and result.size_bytes == 1 << 30
    assert result.media_type == "image/png"
    assert reads and max(reads) <= 4096


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigurationError):
        IntakeLimits(max_frames=0)


def test_unreadable_and_not_regular(tmp_path: Path) -> None:
    missing = intake_path(tmp_path / "gone.png", LIMITS)
    assert missing.error == "unreadable" and missing.sha256 == ""
    assert intake_path(tmp_path, LIMITS).error == "not-a-regular-file"
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert intake_path(fifo, LIMITS).error == "not-a-regular-file"  # must not block


def test_unreadable_permissions(tmp_path: Path) -> None:
    locked = tmp_path / "locked.png"
    locked.write_bytes(encode(noise(15), "PNG"))
    locked.chmod(0)
    if os.access(locked, os.R_OK):
        pytest.skip("running as root: permissions do not stop reads")
    assert intake_path(locked, LIMITS).error == "unreadable"


def test_sniff_table() -> None:
    assert sniff(b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf") == "image/heic"
    assert sniff(b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf") == "image/avif"
    assert sniff(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf") == "image/heif"
    assert sniff(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2") == "video/mp4"
    assert sniff(b"BM" + bytes(12) + b"\x28\x00\x00\x00") == "image/bmp"
    assert sniff(b"BMW and other cars\n") == "text/plain"
    assert sniff(b"<?xml version='1.0'?><svg/>") == "image/svg+xml"
    assert sniff("caf\u00e9 ".encode() * 2000) == "text/plain"
    assert sniff(bytes(range(256))) == "application/octet-stream"


def test_iter_media_paths_order_hidden_and_symlinks(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.png").write_bytes(b"x")
    (tmp_path / "b" / "1.png").write_bytes(b"x")
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.png").write_bytes(b"x")
    (tmp_path / ".dot.png").write_bytes(b"x")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "c" / "link.png").symlink_to(tmp_path / "a.png")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_media_paths([tmp_path])]
    # Nothing is skipped: hidden entries are walked, a link to a folder is listed, not followed.
    assert found == [
        ".dot.png",
        ".hidden/h.png",
        "a.png",
        "b/1.png",
        "b/2.png",
        "c/link.png",
        "c/loop",
    ]
    assert list(iter_media_paths([tmp_path / ".dot.png"])) == [tmp_path / ".dot.png"]
    with pytest.raises(IntakeError) as caught:
        list(iter_media_paths([tmp_path / "missing"]))
    assert caught.value.reason == "not-found"


def test_intake_sets_source_and_path(tmp_path: Path) -> None:
    data = encode(noise(16), "PNG")
    result = intake_bytes(data, LIMITS, path="x.png", source="upload")
    assert result.path == "x.png"
    assert result.sample is not None and result.sample.source == "upload"
    assert result.sample.data == data


def _seeds() -> dict[str, bytes]:
    image = noise(17, (24, 16))
    return {
        "webp": encode(image, "WEBP"),
        "tiff": encode(image, "TIFF"),
        "heif": _heic(image),
        "png": encode(image, "PNG"),
        "jpeg": encode(image, "JPEG"),
        "gif": encode(
            image.convert("P"),
            "GIF",
            save_all=True,
            append_images=[noise(18, (24, 16)).convert("P")],
        ),
    }


SEEDS = _seeds()
MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(sorted(SEEDS)), mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_media_never_raises(seed: str, mutations: list[tuple[str, int, int]]) -> None:
    data = bytearray(SEEDS[seed])
    for kind, where, value in mutations:
        at = where % max(len(data), 1)
        if kind == "flip" and data:
            data[at] ^= 1 << value
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = bytes([value]) * (1 + where % 5)
    result = intake_bytes(bytes(data), LIMITS)
    if result.ok:
        assert result.sample is not None and result.sample.image is not None
        assert result.width == result.sample.image.width
    else:
        assert result.error in ERROR_REASONS
        assert result.sample is None


def _tiff_header_only(width: int, height: int) -> bytes:
    """A little-endian TIFF whose single IFD declares ``width`` x ``height`` 8-bit grey."""
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample, SHORT
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 8 + 2 + 12 * 9 + 4),  # StripOffsets: just after the IFD
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(entries))
    ifd += b"".join(struct.pack("<HHII", tag, kind, 1, value) for tag, kind, _, value in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + bytes(16)


def test_header_bombs_in_other_formats() -> None:
    assert intake_bytes(_tiff_header_only(4, 4), LIMITS).ok
    assert intake_bytes(_tiff_header_only(50_000, 50_000), LIMITS).error == "decompression-bomb"
    jpeg = bytearray(encode(noise(19), "JPEG"))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 60_000, 60_000)
    assert intake_bytes(bytes(jpeg), LIMITS).error == "decompression-bomb"
    gif = bytearray(many_frames_gif(1))
    gif[6:10] = struct.pack("<HH", 65_535, 65_535)
    assert intake_bytes(bytes(gif), LIMITS).error == "decompression-bomb"


def test_recognised_but_undecodable_is_unsupported() -> None:
    jxl = b"\x00\x00\x00\x0cJXL \r\n\x87\n" + bytes(64)
    assert intake_bytes(jxl, LIMITS).error == "unsupported-format"
    assert intake_bytes(b"8BPS" + bytes(64), LIMITS).error == "unsupported-format"


def test_pillow_global_state_left_alone() -> None:
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    for data in (bomb_png(), encode(noise(20), "PNG"), many_frames_gif(1000)):
        intake_bytes(data, LIMITS)
    after = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    assert after == before
