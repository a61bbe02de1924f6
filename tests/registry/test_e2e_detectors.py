"""Every training-free detector's fixtures, written the way the real tools write them, are
detected with the right label through `provreg ingest --json`; the clean photos are not.

Fixtures come from each detector's own fixture module; here they travel the whole path:
intake, detectors, signing, the Merkle log, then `provreg verify`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detectors.plugins import registered_entry_points
from detectors.testing import c2pa_fixtures, metadata_fixtures, metadata_nulls
from tests.registry.test_cli import json_lines, provreg

TRAINING_FREE = [
    name for name in ("metadata", "c2pa", "watermark") if name in registered_entry_points()
]


def _watermark_fixtures() -> list[tuple[str, bytes, str]]:
    try:
        from detectors.testing import watermark_fixtures
    except ImportError:
        return []
    return list(watermark_fixtures.e2e_fixtures())


def _fixtures() -> list[tuple[str, bytes, str, str]]:
    """(file name, bytes, detector, expected label)."""
    out = [
        (f"{name}.{_ext(data)}", data, "metadata", label)
        for name, data, label in metadata_fixtures.positive_fixtures()
    ]
    pki = c2pa_fixtures.default_pki()
    for fmt in ("JPEG", "PNG"):
        signed = c2pa_fixtures.sign(
            c2pa_fixtures.noise_bytes(3, fmt, 256),
            fmt,
            c2pa_fixtures.created_manifest(c2pa_fixtures.TRAINED),
            pki,
        )
        out.append((f"c2pa-generated.{fmt.lower()}", signed, "c2pa", "c2pa"))
    out += [(name, data, "watermark", label) for name, data, label in _watermark_fixtures()]
    return out


def _ext(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "png"
    if data[:4] == b"RIFF":
        return "webp"
    return "jpg"


@pytest.mark.slow
def test_fixtures_detected_and_clean_photos_not(
    provreg_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **provreg_env,
        "PROVREG_EXECUTOR": "inline",
        "PROVREG_DETECTORS": ",".join(["file-facts", *TRAINING_FREE]),
    }
    positives = tmp_path / "positives"
    positives.mkdir()
    expected: dict[str, tuple[str, str]] = {}
    for name, data, detector, label in _fixtures():
        if detector not in TRAINING_FREE:
            continue
        (positives / name).write_bytes(data)
        expected[str(positives / name)] = (detector, label)
    clean = tmp_path / "clean"
    clean.mkdir()
    for index, (name, data) in enumerate(metadata_nulls.null_images()):
        safe = name.replace("/", "_").replace(":", "_")
        (clean / f"{index:03d}-{safe}").write_bytes(data)

    lines = json_lines(
        provreg(env, "ingest", str(positives), str(clean), "--json", timeout=900).stdout
    )
    by_path = {line["path"]: line for line in lines}
    assert len(by_path) == len(expected) + len(list(clean.iterdir()))

    for path, (detector, label) in expected.items():
        line = by_path[path]
        assert line["status"] == "ok", line
        verdict = _verdict(line, detector)
        assert verdict["positive"] and verdict["label"] == label, (path, verdict)

    worst_p = 1.0
    for path, line in by_path.items():
        if path in expected:
            continue
        if line["status"] != "ok":
            pytest.fail(f"clean photo failed intake: {path}: {line['error']}")
        flagged = [v for v in line["verdicts"] if v["positive"]]
        assert not flagged, (path, flagged)
        worst_p = min(
            [worst_p] + [v["p_value"] for v in line["verdicts"] if v["p_value"] is not None]
        )
    print(f"clean photos: {len(by_path) - len(expected)}, worst null p-value {worst_p:.3g}")
    assert json_lines(provreg(env, "verify", "--json").stdout)[0]["ok"]


def _verdict(line: dict[str, Any], detector: str) -> dict[str, Any]:
    (verdict,) = [v for v in line["verdicts"] if v["detector"] == detector]
    return verdict
