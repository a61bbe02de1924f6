"""The watermark key registry: encrypted marks, the CLI, the family-wise correction, and
keys never reaching stored verdicts or logs."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import numpy as np
import psycopg
import pytest
from click.testing import CliRunner

from detectors.base import NOT_FOUND
from detectors.testing.conformance import sample_from_bytes
from detectors.testing.watermark_fixtures import encode, photo
from detectors.watermark import WatermarkDetector, embed_payload
from detectors.watermark.payloads import parse_bits, parse_payloads
from registry.cli.root import main
from registry.errors import KeyStoreError
from registry.models.watermark_keys import ENV_KEY, WatermarkKeyError, WatermarkKeyring

KEY_HEX = "5a17c3e9d2b4"
OTHER_HEX = "c3a5961e2d4b"
KEY_BITS = "".join(str(b) for b in parse_bits("0x" + KEY_HEX))


def _marked(hex_key: str, carrier: str = "astronaut") -> bytes:
    (payload,) = parse_payloads([{"name": "tmp", "bits": "0x" + hex_key}])
    return encode(embed_payload(photo(carrier), payload, "bgr"))


def test_marks_are_encrypted_at_rest(tmp_path: Path) -> None:
    keyring = WatermarkKeyring(tmp_path, environ={})
    mark = keyring.add("acme", "dwtDct", KEY_HEX)
    assert (mark.name, mark.method, mark.bits) == ("acme", "dwtDct", 48)
    stored = keyring.keys_file.read_bytes()
    for secret in (KEY_HEX.encode(), KEY_BITS.encode(), KEY_HEX.upper().encode()):
        assert secret not in stored
    assert stat.S_IMODE(keyring.master_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(keyring.keys_file.stat().st_mode) == 0o600
    assert [m.name for m in keyring.marks()] == ["acme"]
    payloads = keyring.detector_payloads()
    assert payloads[0]["bits"] == "0b" + KEY_BITS and payloads[0]["secret"] is True
    keyring.remove("acme")
    assert keyring.marks() == []
    with pytest.raises(WatermarkKeyError, match="no mark named"):
        keyring.remove("acme")


def test_loose_master_key_file_is_refused(tmp_path: Path) -> None:
    keyring = WatermarkKeyring(tmp_path, environ={})
    keyring.add("acme", "dwtDct", KEY_HEX)
    os.chmod(keyring.master_file, 0o644)
    with pytest.raises(KeyStoreError, match="must be 0600"):
        keyring.marks()


def test_master_key_from_environment_and_wrong_key(tmp_path: Path) -> None:
    env = {ENV_KEY: "11" * 32}
    WatermarkKeyring(tmp_path, environ=env).add("acme", "dwtDct", KEY_HEX)
    assert not (tmp_path / "watermark" / "master.key").exists()
    assert [m.name for m in WatermarkKeyring(tmp_path, environ=env).marks()] == ["acme"]
    with pytest.raises(KeyStoreError, match="does not decrypt"):
        WatermarkKeyring(tmp_path, environ={ENV_KEY: "22" * 32}).marks()
    with pytest.raises(KeyStoreError, match="32 bytes"):
        WatermarkKeyring(tmp_path, environ={ENV_KEY: "abcd"}).marks()


def test_bad_marks_are_refused_without_echoing_the_key(tmp_path: Path) -> None:
    keyring = WatermarkKeyring(tmp_path, environ={})
    keyring.add("acme", "dwtDct", KEY_HEX)
    with pytest.raises(WatermarkKeyError, match="already registered"):
        keyring.add("acme", "dwtDct", OTHER_HEX)
    with pytest.raises(WatermarkKeyError, match="already taken"):
        keyring.add("sdxl", "dwtDct", OTHER_HEX)
    lopsided = "000000000001"
    with pytest.raises(WatermarkKeyError, match="lopsided") as info:
        keyring.add("flat", "dwtDct", lopsided)
    assert lopsided not in str(info.value)
    with pytest.raises(WatermarkKeyError, match="reads 32"):
        keyring.add("riva", "rivaGan", KEY_HEX)
    with pytest.raises(WatermarkKeyError, match="hex"):
        keyring.add("junk", "dwtDct", "not-a-key")


def test_registered_mark_is_found_and_named_wrong_key_rejected(tmp_path: Path) -> None:
    keyring = WatermarkKeyring(tmp_path, environ={})
    keyring.add("acme", "dwtDct", KEY_HEX)
    keyring.add("globex", "dwtDct", OTHER_HEX)
    detector = WatermarkDetector({"payloads": keyring.detector_payloads()})
    marked = sample_from_bytes(_marked(KEY_HEX))
    clean = sample_from_bytes(encode(photo("camera")))
    found, nothing = detector.detect_batch([marked, clean])
    assert found.positive and found.label == "acme"
    assert not nothing.positive and nothing.label == NOT_FOUND
    # Only the other key registered: the mark is not claimed for it.
    keyring.remove("acme")
    (other,) = WatermarkDetector({"payloads": keyring.detector_payloads()}).detect_batch([marked])
    assert other.label == NOT_FOUND and not other.positive
    evidence = json.dumps(found.evidence)
    assert KEY_HEX not in evidence and KEY_BITS not in evidence and "decoded_hex" not in evidence


def test_correction_grows_with_the_number_of_registered_marks(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    keyring = WatermarkKeyring(tmp_path, environ={})
    keyring.add("acme", "dwtDct", KEY_HEX)
    marked = sample_from_bytes(_marked(KEY_HEX, "camera"))
    seen: list[tuple[int, float, float]] = []
    for count in range(1, 5):
        detector = WatermarkDetector({"payloads": keyring.detector_payloads()})
        (verdict,) = detector.detect_batch([marked])
        best = verdict.evidence["best"]
        assert isinstance(best, dict) and verdict.label == "acme"
        assert verdict.evidence["tests"] == detector.tests_per_image == 8 + 2 * count
        assert verdict.p_value == pytest.approx(detector.tests_per_image * best["p_value"])
        seen.append((detector.tests_per_image, float(best["p_value"]), verdict.p_value))
        bits = np.array([1] * 24 + [0] * 24)
        rng.shuffle(bits)
        keyring.add(f"decoy{count}", "dwtDct", "0b" + "".join(map(str, bits)))
    raw = {p for _, p, _ in seen}
    assert len(raw) == 1  # the same image, the same raw p-value...
    corrected = [p for _, _, p in seen]
    assert corrected == sorted(corrected) and corrected[0] < corrected[-1]  # ...corrected more


def test_cli_and_ingest_never_store_or_log_the_key(
    provreg_env: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Register through the CLI, ingest a marked file, then search every stored row and log."""
    caplog.set_level(logging.DEBUG)
    env = {**provreg_env, "PROVREG_DETECTORS": "watermark", "PROVREG_EXECUTOR": "inline"}
    key_file = tmp_path / "acme.key"
    key_file.write_text(KEY_HEX + "\n")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "marked.png").write_bytes(_marked(KEY_HEX))
    (uploads / "clean.png").write_bytes(encode(photo("camera")))
    runner = CliRunner()
    output = []
    everything = []
    for args in (
        ["init"],
        ["watermark", "add", "acme", "--key-file", str(key_file)],
        ["watermark", "add", "globex", "--payload", OTHER_HEX],
        ["watermark", "list", "--json"],
        ["ingest", str(uploads), "--json"],
        ["watermark", "list"],
    ):
        result = runner.invoke(main, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        output.append(result.stdout)  # stderr carries the run summaries
        everything.append(result.output)
    marks = [json.loads(line) for line in output[3].splitlines()]
    assert [(m["name"], m["bits"]) for m in marks] == [("acme", 48), ("globex", 48)]
    lines = {Path(row["path"]).name: row for row in map(json.loads, output[4].splitlines())}
    (marked,) = lines["marked.png"]["verdicts"]
    (clean,) = lines["clean.png"]["verdicts"]
    assert marked["positive"] and marked["label"] == "acme"
    assert clean["label"] == NOT_FOUND
    home = Path(env["PROVREG_HOME"])
    assert stat.S_IMODE((home / "watermark" / "master.key").stat().st_mode) == 0o600

    url = env["PROVREG_DATABASE_URL"].replace("+psycopg", "")
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        dump = "\n".join(
            str(row[0])
            for table in tables
            for row in conn.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')
        )
        stored = conn.execute("SELECT count(*) FROM verdicts WHERE label = 'acme'").fetchone()
    assert stored is not None and stored[0] == 1
    logs = "\n".join([*everything, caplog.text])
    other_bits = "".join(str(b) for b in parse_bits("0x" + OTHER_HEX))
    for secret in (KEY_HEX, KEY_BITS, OTHER_HEX, other_bits):
        for text in (secret, secret.upper()):
            assert text not in dump, "a key reached the database"
            assert text not in logs, "a key reached the output or the logs"


def test_add_decoder_registers_a_pinned_manifest(tmp_path: Path) -> None:
    """`provreg watermark add-decoder` stores the file by hash; the registry hands the
    manifest and store to the detector, which finds a mark registered for that decoder."""
    from detectors.testing.watermark_learned_fixtures import (
        spread_embed,
        spread_manifest,
        write_spread_decoder,
    )

    weights = write_spread_decoder(tmp_path / "spread.pt")
    manifest = {k: v for k, v in spread_manifest("0" * 64).items() if k != "sha256"}
    manifest_file = tmp_path / "spread.json"
    manifest_file.write_text(json.dumps(manifest))
    env = {"PROVREG_HOME": str(tmp_path / "home"), "PROVREG_WATERMARK_KEY": "33" * 32}
    runner = CliRunner()
    added = runner.invoke(
        main, ["watermark", "add-decoder", str(manifest_file), str(weights)], env=env
    )
    assert added.exit_code == 0, added.output
    mark = runner.invoke(
        main,
        ["watermark", "add", "acme-net", "--method", "acme-spread", "--payload", "3C96A5E1"],
        env=env,
    )
    assert mark.exit_code == 0, mark.output
    listed = runner.invoke(main, ["watermark", "list", "--json"], env=env)
    kinds = [json.loads(line)["kind"] for line in listed.output.splitlines()]
    assert kinds == ["mark", "decoder"] and "3c96a5e1" not in listed.output.lower()
    # The decoder is a model-store entry (provreg models list shows it), pinned by SHA-256.
    models = runner.invoke(main, ["models", "list"], env=env)
    assert models.exit_code == 0 and "acme-spread" in models.output, models.output
    assert "watermark-decoder" in models.output

    from registry.models.watermark_keys import watermark_options

    options = watermark_options(tmp_path / "home", environ=env)
    detector = WatermarkDetector(options)
    key = tuple(int(b) for b in format(0x3C96A5E1, "032b"))
    marked = sample_from_bytes(encode(spread_embed(photo("chelsea"), key)))
    (verdict,) = detector.detect_batch([marked])
    assert verdict.label == "acme-net" and verdict.positive

    wrong = {**manifest, "sha256": "1" * 64}
    manifest_file.write_text(json.dumps(wrong))
    refused = runner.invoke(
        main, ["watermark", "add-decoder", str(manifest_file), str(weights)], env=env
    )
    assert refused.exit_code != 0 and "pins" in refused.output


def test_verdict_identity_names_a_secret_mark_by_id_not_bits() -> None:
    """The model checksum (stored with every verdict) must not let anyone brute-force a short
    key: it depends on the mark's id, never on its bits."""

    def checksum(bits: str, key_id: str) -> str | None:
        payload = {"name": "acme", "bits": bits, "secret": True, "id": key_id}
        return WatermarkDetector({"payloads": [payload]}).model_checksum

    assert checksum("0x" + KEY_HEX, "aa") == checksum("0x" + OTHER_HEX, "aa")
    assert checksum("0x" + KEY_HEX, "aa") != checksum("0x" + KEY_HEX, "bb")
    public = WatermarkDetector({"payloads": [{"name": "acme", "bits": "0x" + KEY_HEX}]})
    assert public.model_checksum != checksum("0x" + KEY_HEX, "aa")
