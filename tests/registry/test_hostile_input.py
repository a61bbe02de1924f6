"""Issue 11, items 2-6 (the ledger's numbers are in test_canonical_roundtrip.py): each test
reproduces one reported failure.

- a non-UTF-8 name, a FIFO, links to devices, dangling and looping links: each gets its own
  line, nothing aborts and nothing blocks;
- a bad CRC on an ancillary PNG chunk no longer hides a banked image from copy detection;
- budgets: size from ``stat`` (an 8 GiB sparse file is never read), capped chunk and block
  walks, a per-detector wall-clock budget;
- batches bounded by decoded pixels.
"""

from __future__ import annotations

import io
import os
import socket
import struct
import time
import zlib
from pathlib import Path

import psycopg
import pytest
from PIL import Image

from bench.hostile_corpus import (
    bad_crc_text_png,
    big_ztxt_png,
    chunk,
    comfyui_numbers_png,
    huge_pixels_png,
    many_blocks_gif,
    polyglot_png_zip,
    unknown_method_ztxt_png,
    with_chunks,
)
from detectors.base import Detector, Sample, Verdict
from detectors.file_facts import FileFactsDetector
from detectors.testing.copy_fixtures import copy_cli_env, save_image, textured
from registry.intake.pipeline import (
    IntakeLimits,
    intake_batches,
    intake_bytes,
    intake_path,
    iter_media_paths,
    path_bytes_hex,
    path_location,
    path_text,
)
from tests.registry.test_cli import json_lines, provreg

LIMITS = IntakeLimits()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def _png(color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), color).save(buffer, "PNG")
    return buffer.getvalue()


def _specials(folder: Path) -> dict[bytes, str | None]:
    """A folder of every path kind that aborted or vanished before; expected error each."""
    folder.mkdir(parents=True)
    expected: dict[bytes, str | None] = {}
    latin1 = os.fsencode(folder) + b"/latin1-\xe9.jpg"
    with open(latin1, "wb") as handle:
        handle.write(_jpeg())
    expected[latin1] = None
    (folder / "good.png").write_bytes(_png())
    expected[os.fsencode(folder / "good.png")] = None
    (folder / ".hidden.png").write_bytes(_png((1, 2, 3)))
    expected[os.fsencode(folder / ".hidden.png")] = None
    os.mkfifo(folder / "fifo.png")
    links = {
        "zero.png": "/dev/zero",
        "urandom.png": "/dev/urandom",
        "dangling.png": str(folder / "gone.png"),
        "loop.png": str(folder / "loop.png"),
    }
    for name, target in links.items():
        os.symlink(target, folder / name)
    for name in ("fifo.png", *links):
        expected[os.fsencode(folder / name)] = "not-a-regular-file"
    return expected


def test_walk_gives_every_path_one_result_and_never_blocks(tmp_path: Path) -> None:
    expected = _specials(tmp_path / "in")
    sock = tmp_path / "in" / "s.png"
    if len(os.fsencode(sock)) < 100:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(sock))
        server.close()
        expected[os.fsencode(sock)] = "not-a-regular-file"
    paths = list(iter_media_paths([tmp_path / "in"]))
    assert sorted(os.fsencode(p) for p in paths) == sorted(expected)
    for path in paths:
        result = intake_path(path, LIMITS)
        assert result.error == expected[os.fsencode(path)], (path, result.error_detail)
    loop = intake_path(tmp_path / "in" / "loop.png", LIMITS)
    assert loop.error_detail == "symbolic link loop"
    assert intake_path(tmp_path / "in" / "dangling.png", LIMITS).error_detail == (
        "dangling symbolic link"
    )
    assert list(iter_media_paths([tmp_path / "in" / "loop.png"])) == [tmp_path / "in" / "loop.png"]


def test_non_utf8_names_have_a_lossless_text_form() -> None:
    name = os.fsdecode(b"/up/latin1-\xe9\\x41.jpg")
    assert path_text(name) == "/up/latin1-\ufffd\\x41.jpg"
    assert bytes.fromhex(path_bytes_hex(name) or "") == b"/up/latin1-\xe9\\x41.jpg"
    assert path_location(name) == "/up/latin1-\\xe9\\x41.jpg"
    assert path_bytes_hex("/up/caf\u00e9.jpg") is None and path_text("caf\u00e9") == "caf\u00e9"


@pytest.fixture
def env(provreg_env: dict[str, str]) -> dict[str, str]:
    return {**provreg_env, "PROVREG_DETECTORS": "file-facts,metadata", "PROVREG_EXECUTOR": "inline"}


@pytest.mark.slow
def test_cli_ingest_lists_odd_names_and_special_files(env: dict[str, str], tmp_path: Path) -> None:
    expected = _specials(tmp_path / "in")
    fooocus = tmp_path / "in" / "fooocus.png"
    fooocus.write_bytes(comfyui_numbers_png(3))
    expected[os.fsencode(fooocus)] = None
    result = provreg(env, "ingest", str(tmp_path / "in"), "--json")
    lines = json_lines(result.stdout)
    seen: dict[bytes, str | None] = {}
    for line in lines:
        exact = line.get("path_bytes_hex")
        key = bytes.fromhex(exact) if exact else line["path"].encode()
        assert key not in seen
        seen[key] = line["error"]
    assert seen == expected
    assert all(line["status"] == ("ok" if line["error"] is None else "error") for line in lines)
    verified = json_lines(provreg(env, "verify", "--json").stdout)
    assert verified[0]["ok"] is True

    # verify names every bad entry (up to --max-errors), not only the first
    url = env["PROVREG_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE verdicts SET label = 'forged' WHERE log_index IN (1, 4)")
    tampered = provreg(env, "verify", "--json", check=False)
    assert tampered.returncode == 1
    summary, *bad = json_lines(tampered.stdout)
    assert summary["first_bad_index"] == 1 and summary["errors"] == 2
    assert [line["bad_index"] for line in bad] == [1, 4]
    limited = provreg(env, "verify", "--json", "--max-errors", "1", check=False)
    summary, *bad = json_lines(limited.stdout)
    assert limited.returncode == 1 and summary["truncated"] is True and len(bad) == 1


def _banked_env(provreg_env: dict[str, str]) -> dict[str, str]:
    return copy_cli_env(provreg_env)


@pytest.mark.parametrize("variant", ["bad-crc-text", "big-ztxt", "unknown-ztxt", "trailing"])
@pytest.mark.slow
def test_banked_image_with_an_odd_ancillary_chunk_still_matches(
    provreg_env: dict[str, str], tmp_path: Path, variant: str
) -> None:
    env = _banked_env(provreg_env)
    original = save_image(textured(5), tmp_path / "refs" / "ref.png")
    provreg(env, "bank", "add", "flagged", str(original), "--reason", "test")
    data = original.read_bytes()
    body = b"Comment\x00uploaded again"
    altered = {
        "bad-crc-text": with_chunks(data, chunk(b"tEXt", body, crc=zlib.crc32(b"tEXt" + body) ^ 1)),
        "big-ztxt": with_chunks(
            data, chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b" " * (2 * 1024 * 1024)))
        ),
        "unknown-ztxt": with_chunks(data, chunk(b"zTXt", b"Comment\x00\x07" + b"junk")),
        "trailing": data + b"PK\x03\x04" + bytes(40),
    }[variant]
    upload = tmp_path / "uploads" / "again.png"
    upload.parent.mkdir()
    upload.write_bytes(altered)
    (line,) = json_lines(provreg(env, "ingest", str(upload), "--json").stdout)
    assert line["status"] == "ok", line
    verdicts = {v["detector"]: v for v in line["verdicts"]}
    assert verdicts["copy"]["positive"] is True and verdicts["copy"]["label"] == "copy"
    assert verdicts["file-facts"]["evidence"]["anomalies"], verdicts["file-facts"]


@pytest.mark.parametrize(
    "maker", [bad_crc_text_png, big_ztxt_png, unknown_method_ztxt_png, polyglot_png_zip]
)
def test_tolerated_anomalies_decode_and_are_flagged(maker: object) -> None:
    data = maker(11)  # type: ignore[operator]
    result = intake_bytes(data, LIMITS)
    assert result.ok and result.sample is not None and result.anomalies
    assert result.sample.data == data  # detectors still read the original bytes
    (verdict,) = FileFactsDetector().detect_batch([result.sample])
    assert verdict.error is None and verdict.evidence["anomalies"] == list(result.anomalies)


def test_critical_chunk_damage_is_still_corrupt() -> None:
    data = bytearray(_png())
    start = data.index(b"IDAT")
    length = struct.unpack(">I", data[start - 4 : start])[0]
    data[start + 4 + length] ^= 0xFF
    assert intake_bytes(bytes(data), LIMITS).error == "corrupt"


def test_sparse_8_gib_file_is_too_large_from_stat(tmp_path: Path) -> None:
    path = tmp_path / "sparse.png"
    with path.open("wb") as handle:
        handle.write(_png())
        handle.truncate(8 << 30)
    result = intake_path(path, LIMITS)
    assert result.error == "too-large" and result.size_bytes == 8 << 30
    assert result.sha256 == ""  # never hashed: that was the 24 s
    assert result.media_type == "image/png"


def test_chunk_and_block_walks_are_capped() -> None:
    empty = chunk(b"zzZz", b"")
    png = with_chunks(_png(), empty * 1_300_000)  # the reported 18 MB file
    result = intake_bytes(png, IntakeLimits())
    assert result.error == "too-many-chunks" and "20000" in (result.error_detail or "")
    gif = many_blocks_gif(1, count=30_000)
    assert intake_bytes(gif, IntakeLimits()).error == "too-many-chunks"
    assert intake_bytes(many_blocks_gif(1, count=10), IntakeLimits()).ok
    tight = IntakeLimits(max_chunks=5)
    assert intake_bytes(with_chunks(_png(), empty * 5), tight).error == "too-many-chunks"


class _Sleepy(Detector):
    """Takes far too long on the sample named ``slow``."""

    name = "sleepy"
    version = "1"

    def detect_one(self, sample: Sample) -> Verdict:
        if sample.sha256 == "slow":
            time.sleep(2.0)
        if sample.sha256 == "boom":
            raise ValueError("bad input")
        return self.not_found(sample)


def test_a_detector_over_its_budget_gives_a_timeout_verdict() -> None:
    detector = _Sleepy({"time_budget_s": 0.2})
    samples = [Sample(sha, b"", "image/png") for sha in ("fast-1", "slow", "boom", "fast-2")]
    verdicts = detector.detect_batch(samples)
    assert [v.asset_sha256 for v in verdicts] == ["fast-1", "slow", "boom", "fast-2"]
    assert [v.error for v in verdicts] == [None, "timeout", "detector-exception", None]
    timeout = verdicts[1]
    assert timeout.evidence["detector"] == "sleepy" and timeout.evidence["budget_s"] == 0.2
    unbudgeted = _Sleepy({"time_budget_s": 0})
    assert unbudgeted.time_budget_s == 0.0
    assert unbudgeted.detect_batch([Sample("fast", b"", "image/png")])[0].error is None


@pytest.mark.slow
def test_batches_are_bounded_by_decoded_pixels(tmp_path: Path) -> None:
    paths = []
    for index in range(3):  # 7999 x 7999, about 250 KB each, 64 M pixels decoded
        path = tmp_path / f"big-{index}.png"
        path.write_bytes(huge_pixels_png(index))
        paths.append(path)
    small = tmp_path / "small.png"
    small.write_bytes(_png())
    paths.append(small)
    limits = IntakeLimits(max_batch_pixels=100_000_000)
    sizes = [len(batch) for batch in intake_batches(paths, limits, batch_size=16)]
    assert sizes == [1, 1, 2]  # never two 64 M-pixel images together under a 100 M ceiling
    counted = [len(b) for b in intake_batches([small] * 5, IntakeLimits(), batch_size=2)]
    assert counted == [2, 2, 1]
