"""Evidence bundles verify what they show: every file is rebuilt from the signed bytes."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from detectors.base import Verdict
from registry.errors import ProofError
from registry.ledger import standalone_verify as sv
from registry.ledger.evidence import build_evidence_bundle
from registry.ledger.signing import Signer, StoredKey
from registry.ledger.writer import Ledger
from registry.testing.ledger_helpers import ORIGIN, seed

SIGNER = Signer.generate()
KEYS = [StoredKey(SIGNER.key_id, SIGNER.public_key, True)]
SHA = hashlib.sha256(b"bundle-asset").hexdigest()


def _verdicts() -> list[Verdict]:
    return [
        Verdict(
            detector="copy",
            version="1.0",
            model_checksum=None,
            asset_sha256=SHA,
            label="copy",
            positive=True,
            score=3.0,
            p_value=None,
            evidence={"reference": "ref-1", "distance": 12, "note": "# **md** <b>x</b>"},
        ),
        Verdict(
            detector="metadata",
            version="2.1",
            model_checksum=None,
            asset_sha256=SHA,
            label="not-found",
            positive=False,
            evidence={},
        ),
    ]


@pytest.fixture
def bundle(db_session: Session, tmp_path: Path) -> Path:
    ledger = Ledger(SIGNER, ORIGIN)
    seed(db_session, ledger, _verdicts())
    ledger.record_sightings(
        db_session,
        [{"asset_sha256": SHA, "source": "feed\n- [99] fake line", "location": "/up/a.png"}],
    )
    ledger.checkpoint(db_session)
    data = build_evidence_bundle(
        db_session, SHA, key_name=ORIGIN, trusted_keys=KEYS, exported_by="ivy"
    )
    root = tmp_path / "bundle"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(root)
    return root


def verify(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "standalone_verify.py", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )


def copy_index(root: Path) -> int:
    for path in (root / "verdicts").iterdir():
        if json.loads(path.read_bytes())["label"] == "copy":
            return int(path.stem)
    raise AssertionError("no copy verdict in the bundle")


def test_the_untouched_bundle_verifies_from_its_root(bundle: Path) -> None:
    result = verify(bundle, ".")
    assert result.returncode == 0, result.stdout + result.stderr
    verifier = len(sv.VERIFIER_FILES)  # all but the verifier's own files
    assert result.stdout.count("OK ") == len(list(bundle.rglob("*.*"))) - verifier
    assert sorted(p.name for p in (bundle / "sightings").iterdir()) == ["2.json"]
    readme = (bundle / "README.md").read_text()
    assert 'label "copy" (positive)' in readme
    assert '"feed\\n- [99] fake line"' in readme  # hostile text stays one quoted line


def test_editing_a_label_in_verdicts_json_fails_naming_the_file(bundle: Path) -> None:
    index = copy_index(bundle)
    path = bundle / "verdicts" / f"{index}.json"
    path.write_bytes(path.read_bytes().replace(b'"label":"copy"', b'"label":"not-found"'))
    result = verify(bundle, ".")
    assert result.returncode == 1
    assert f"FAIL verdicts/{index}.json: differs from the signed bytes" in result.stdout


@pytest.mark.parametrize("edit", ["readme", "manifest", "extra", "missing", "sighting"])
def test_any_other_edit_fails(bundle: Path, edit: str) -> None:
    if edit == "readme":
        path = bundle / "README.md"
        path.write_text(path.read_text().replace('label "copy"', 'label "not-found"'))
    elif edit == "manifest":
        path = bundle / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest["verdicts"][0]["positive"] = False
        path.write_text(json.dumps(manifest, indent=2) + "\n")
    elif edit == "extra":
        (bundle / "verdicts" / "notes.txt").write_text("the copy verdict was withdrawn\n")
    elif edit == "missing":
        (bundle / "signatures" / "0.sig").unlink()
    else:
        path = bundle / "sightings" / "2.json"
        path.write_bytes(path.read_bytes().replace(b"/up/a.png", b"/up/b.png"))
    result = verify(bundle, ".")
    assert result.returncode == 1, result.stdout
    assert "FAIL" in result.stdout


def test_the_proofs_folder_alone_still_verifies(bundle: Path) -> None:
    assert verify(bundle, "proofs").returncode == 0


def test_the_builder_refuses_keys_it_does_not_trust(db_session: Session) -> None:
    ledger = Ledger(SIGNER, ORIGIN)
    seed(db_session, ledger, _verdicts())
    ledger.checkpoint(db_session)
    other = Signer.generate()
    with pytest.raises(ProofError, match="untrusted key"):
        build_evidence_bundle(
            db_session,
            SHA,
            key_name=ORIGIN,
            exported_by="ivy",
            trusted_keys=[StoredKey(other.key_id, other.public_key, True)],
        )


def test_the_bundled_verifier_is_the_package_one(bundle: Path) -> None:
    for name in sv.VERIFIER_FILES:
        assert (bundle / name).read_bytes() == Path(sv.__file__).with_name(name).read_bytes()
    shutil.rmtree(bundle / "proofs")
    assert verify(bundle, ".").returncode == 1
