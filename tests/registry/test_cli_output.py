"""What the registry commands print: keys in both encodings the verifier accepts, copy hits
that say how they matched (hash or verified) and against which bank and reference, a
readable ``show``, a plain "file not found", the end-of-run summary and the first run's
note of what it created."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from detectors.testing.copy_fixtures import EDITS, copy_cli_env, reference_images, save_image
from registry.ledger import standalone_verify as sv
from tests.ray_fixtures import make_images
from tests.registry.test_cli import REPO, json_lines, provreg


@pytest.fixture
def env(provreg_env: dict[str, str]) -> dict[str, str]:
    return {**provreg_env, "PROVREG_DETECTORS": "file-facts", "PROVREG_EXECUTOR": "inline"}


def verify_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, sv.__file__, *args], text=True, capture_output=True, timeout=60, cwd=REPO
    )


@pytest.mark.slow
def test_keys_list_shows_hex_and_base64_and_the_verifier_takes_either(
    env: dict[str, str], tmp_path: Path
) -> None:
    (image,) = make_images(tmp_path / "in", 1, seed=61)
    first = provreg(env, "ingest", str(image))
    assert "first run: created signing key" in first.stderr
    assert "ingest: 1 file(s), 1 ok, 0 error(s), 1 new verdict(s)" in first.stderr
    again = provreg(env, "ingest", str(image))
    assert "first run" not in again.stderr and "0 new verdict(s)" in again.stderr

    provreg(env, "checkpoint")
    bundle = tmp_path / "proof.json"
    provreg(env, "proof", "0", "--out", str(bundle))
    (key,) = json_lines(provreg(env, "keys", "list", "--json").stdout)
    raw = bytes.fromhex(key["public_key_hex"])
    assert base64.b64decode(key["public_key_base64"]) == raw and key["public_key"] == raw.hex()
    pub_file = Path(env["PROVREG_HOME"]) / "keys" / f"{key['key_id']}.pub"
    assert pub_file.read_text() == key["public_key_hex"]
    text = provreg(env, "keys", "list").stdout
    assert key["public_key_hex"] in text and key["public_key_base64"] in text

    name = key["key_name"]
    for encoded, encoding in (
        (key["public_key_hex"], "hex"),
        (key["public_key_base64"], "base64"),
        (f"hex:{key['public_key_hex']}", "hex"),
    ):
        result = verify_script(
            str(bundle), "--log-key", f"{name}={encoded}", "--key-id", key["key_id"]
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"--log-key {name}: read as {encoding}" in result.stdout
    short = verify_script(str(bundle), "--log-key", f"{name}={key['public_key_hex'][:40]}")
    assert short.returncode == 2 and "an Ed25519 key is 32" in short.stderr


def test_parse_public_key_names_the_encoding() -> None:
    raw = bytes(range(32))
    assert sv.parse_public_key(raw.hex()) == (raw, "hex")
    assert sv.parse_public_key(raw.hex().upper()) == (raw, "hex")
    assert sv.parse_public_key(base64.b64encode(raw).decode()) == (raw, "base64")
    assert sv.parse_public_key("base64:" + base64.b64encode(raw).decode()) == (raw, "base64")
    with pytest.raises(Exception, match="not valid hex"):
        sv.parse_public_key("hex:" + "zz" * 32)


@pytest.mark.slow
def test_search_of_a_missing_file_says_file_not_found(env: dict[str, str], tmp_path: Path) -> None:
    result = provreg(env, "search", str(tmp_path / "missing.png"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: file not found: {tmp_path / 'missing.png'}"
    as_json = provreg(env, "search", str(tmp_path / "missing.png"), "--json", check=False)
    (line,) = json_lines(as_json.stdout)
    assert as_json.returncode == 2 and line["error"] == "file-not-found"


@pytest.mark.slow
def test_copy_hits_say_hash_or_verified_bank_and_reference(
    provreg_env: dict[str, str], tmp_path: Path
) -> None:
    env = copy_cli_env(provreg_env)
    images = reference_images()
    ref = save_image(images["astronaut"], tmp_path / "refs" / "astronaut.png")
    (added,) = json_lines(provreg(env, "bank", "add", "B", str(ref), "--json").stdout)
    said = provreg(env, "bank", "threshold", "B", "10").stdout
    assert "PDQ distance up to 10" in said and "(match_kind=verified)" in said
    exact = save_image(EDITS["jpeg50"](images["astronaut"]), tmp_path / "up" / "exact.jpg")
    cropped = save_image(EDITS["crop10"](images["astronaut"]), tmp_path / "up" / "crop.png")

    (hash_hit, *_) = json_lines(provreg(env, "search", str(exact), "--json").stdout)
    assert hash_hit["match"] and hash_hit["match_kind"] == "hash"
    assert hash_hit["distance"] <= 10
    (verified_hit, *_) = json_lines(provreg(env, "search", str(cropped), "--json").stdout)
    # Beyond the bank's threshold of 10, yet a match: SIFT + RANSAC verified it.
    assert verified_hit["match"] and verified_hit["match_kind"] == "verified"
    assert verified_hit["distance"] > 10 and verified_hit["verified"] > 0
    assert "(verified match)" in provreg(env, "search", str(cropped)).stdout

    lines = provreg(env, "ingest", str(cropped)).stdout.splitlines()
    (line,) = [line for line in lines if str(cropped) in line]
    assert f"copy:copy bank=B ref={added['sha256'][:16]}… match_kind=verified" in line
    (ingested,) = json_lines(provreg(env, "ingest", str(cropped), "--json").stdout)
    (copy,) = [v for v in ingested["verdicts"] if v["detector"] == "copy"]
    assert copy["evidence"]["matches"][0]["match_kind"] == "verified"

    shown = provreg(env, "show", ingested["sha256"][:12]).stdout
    assert "source=" in shown and str(cropped) in shown  # the sighting
    assert "copy" in shown and "match_kind=verified" in shown
    assert "matches:" in shown and f'reference_sha256: "{added["sha256"]}"' in shown
