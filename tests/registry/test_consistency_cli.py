"""Consistency proofs between checkpoints: RFC 9162 in the standalone verifier, and the CLI."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from registry.ledger import merkle
from registry.ledger import standalone_verify as sv
from tests.registry.test_rollback import append, provreg

SCRIPT = Path(sv.__file__)


def test_standalone_consistency_matches_the_library_on_every_small_pair() -> None:
    tree = merkle.MemoryTree()
    tree.extend(f"entry {i}".encode() for i in range(40))
    for new in range(41):
        for old in range(new + 1):
            proof = tree.consistency_proof(old, new)
            sv.verify_consistency(old, new, proof, tree.root(old), tree.root(new))
            if proof:
                bent = [*proof[:-1], bytes(32)]
                with pytest.raises(sv.Failure):
                    sv.verify_consistency(old, new, bent, tree.root(old), tree.root(new))
            if 0 < old < new:
                with pytest.raises(sv.Failure):
                    sv.verify_consistency(old, new, proof, tree.root(old - 1), tree.root(new))


@pytest.mark.slow
def test_consistency_command_and_standalone_check(
    provreg_env: dict[str, str], tmp_path: Path
) -> None:
    env = provreg_env
    assert provreg(env, "init").returncode == 0
    append(env, 300, 0)
    assert provreg(env, "checkpoint").returncode == 0
    append(env, 77, 300)
    out = tmp_path / "consistency.json"
    made = provreg(env, "consistency", "300", "--out", str(out))
    assert made.returncode == 0, made.stderr
    obj = json.loads(out.read_text())
    assert (obj["old_size"], obj["new_size"]) == (300, 377) and obj["consistency_proof"]
    checked = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), str(out)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout
    assert "tree of 300 is a prefix of tree of 377" in checked.stdout
    obj["consistency_proof"][0] = base64.b64encode(bytes(32)).decode()
    out.write_text(json.dumps(obj))
    bad = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), str(out)], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1 and "FAIL" in bad.stdout
    explicit = provreg(env, "consistency", "300", "377", "--json")
    assert (
        json.loads(explicit.stdout)["consistency_proof"]
        == json.loads(made.stdout)["consistency_proof"]
    )
    missing = provreg(env, "consistency", "123")
    assert missing.returncode == 1 and "no signed checkpoint of size 123" in missing.stderr


@pytest.mark.slow
def test_checkpoint_publish_from_the_command_line(
    provreg_env: dict[str, str], tmp_path: Path
) -> None:
    env, out = provreg_env, tmp_path / "published"
    assert provreg(env, "init").returncode == 0
    append(env, 300, 0)
    first = provreg(env, "checkpoint", "--publish", str(out), "--json")
    assert first.returncode == 0, first.stderr
    published = json.loads(first.stdout)["published"]
    assert published["written"] == 6  # 2 bundles, 2 level-0 tiles, 1 level-1 tile, checkpoint
    again = json.loads(provreg(env, "checkpoint", "--publish", str(out), "--json").stdout)
    assert again["published"] == {"target": str(out), "written": 1, "unchanged": 5}
    assert (out / "checkpoint").read_text() == again["note"]
