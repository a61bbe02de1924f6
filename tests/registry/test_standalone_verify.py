"""The single-file proof verifier, run as a third party would run it."""

from __future__ import annotations

import ast
import base64
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry.ledger import checkpoint, merkle
from registry.ledger import standalone_verify as sv
from registry.ledger.signing import Signer

SCRIPT = Path(sv.__file__)
LOG_NAME = "provreg.example/log"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Ledger:
    """A toy ledger: signed entries in a MemoryTree and a signed checkpoint."""

    def __init__(self, count: int) -> None:
        self.signer = Signer.generate()
        self.log_signer = Signer.generate()
        self.entries = [
            json.dumps({"verdict": i, "label": "clean"}, separators=(",", ":")).encode()
            for i in range(count)
        ]
        self.tree = merkle.MemoryTree()
        self.tree.extend(self.entries)
        head = checkpoint.Checkpoint(LOG_NAME, self.tree.size, self.tree.root())
        self.note = checkpoint.sign_checkpoint(head, self.log_signer, LOG_NAME)

    def proof(self, index: int) -> dict[str, Any]:
        entry = self.entries[index]
        return {
            "entry": b64(entry),
            "signature": b64(self.signer.sign(entry)),
            "key_id": self.signer.key_id,
            "public_key": b64(self.signer.public_key),
            "log_index": index,
            "tree_size": self.tree.size,
            "inclusion_proof": [b64(h) for h in self.tree.inclusion_proof(index)],
            "checkpoint": self.note,
            "checkpoint_public_key": b64(self.log_signer.public_key),
            "checkpoint_key_name": LOG_NAME,
        }


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger(11)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    """The verifier's files copied out of the package, as they travel in an evidence bundle."""
    folder = tmp_path / "bundle"
    folder.mkdir()
    for name in sv.VERIFIER_FILES:
        shutil.copy(SCRIPT.with_name(name), folder / name)
    return folder / "standalone_verify.py"


def run(script: Path, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=script.parent,
        timeout=60,
        check=False,
    )


def write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj, indent=2))
    return path


def test_imports_only_stdlib_and_cryptography() -> None:
    """The verifier's files import each other, the standard library and cryptography only."""
    own = {name.removesuffix(".py") for name in sv.VERIFIER_FILES}
    roots: set[str] = set()
    for name in sv.VERIFIER_FILES:
        for node in ast.walk(ast.parse(SCRIPT.with_name(name).read_text())):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                roots.add((node.module or "").split(".")[0])
    assert "registry" not in roots
    assert own - {"standalone_verify"} <= roots  # the two it imports
    assert roots - set(sys.stdlib_module_names) - own == {"cryptography"}


def test_every_entry_verifies(ledger: Ledger, script: Path, tmp_path: Path) -> None:
    proofs = tmp_path / "proofs"
    proofs.mkdir()
    for i in range(ledger.tree.size):
        write(proofs / f"{i:03}.json", ledger.proof(i))
    result = run(script, proofs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("OK ") == ledger.tree.size
    listed = write(tmp_path / "all.json", [ledger.proof(i) for i in range(ledger.tree.size)])
    result = run(script, listed, proofs / "000.json")
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("OK ") == ledger.tree.size + 1


def test_pinned_keys(ledger: Ledger, script: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "p.json", ledger.proof(4))
    log_key = f"{LOG_NAME}={b64(ledger.log_signer.public_key)}"
    result = run(script, path, "--log-key", log_key, "--key-id", ledger.signer.key_id)
    assert result.returncode == 0, result.stdout
    stranger = Signer.generate()
    result = run(script, path, "--log-key", f"{LOG_NAME}={b64(stranger.public_key)}")
    assert result.returncode == 1 and "not the pinned --log-key" in result.stdout
    result = run(script, path, "--key-id", stranger.key_id)
    assert result.returncode == 1 and "not one of the pinned --key-id" in result.stdout


def flip_b64(value: str, byte: int = 0) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[byte] ^= 0x01
    return b64(bytes(raw))


def flip_note_root(note: str) -> str:
    origin, size, root, rest = note.split("\n", 3)
    return "\n".join([origin, size, flip_b64(root, 5), rest])


def with_field(name: str, change: Callable[[Any], Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(proof: dict[str, Any]) -> None:
        proof[name] = change(proof[name])

    return mutate


TAMPERING: dict[str, tuple[Callable[[dict[str, Any]], None], list[str]]] = {
    "entry": (
        with_field("entry", flip_b64),
        ["entry signature does not verify", "inclusion proof does not lead"],
    ),
    "signature": (with_field("signature", lambda s: flip_b64(s, 40)), ["entry signature"]),
    "proof": (
        with_field("inclusion_proof", lambda p: [flip_b64(p[0], 3), *p[1:]]),
        ["inclusion proof does not lead"],
    ),
    "proof-truncated": (
        with_field("inclusion_proof", lambda p: p[:-1]),
        ["inclusion proof is too short"],
    ),
    "checkpoint-root": (
        with_field("checkpoint", flip_note_root),
        ["checkpoint signature by provreg.example/log does not verify"],
    ),
    "checkpoint-size": (
        with_field("checkpoint", lambda n: n.replace("\n11\n", "\n12\n", 1)),
        ["checkpoint signature"],
    ),
    "checkpoint-signature": (
        with_field(
            "checkpoint",
            lambda n: n[:-1].rsplit(" ", 1)[0] + " " + flip_b64(n[:-1].rsplit(" ", 1)[1], 9) + "\n",
        ),
        ["checkpoint signature"],
    ),
    "checkpoint-key": (
        with_field("checkpoint_public_key", flip_b64),
        ["no signature by provreg.example/log"],
    ),
    "tree-size": (with_field("tree_size", lambda s: s + 1), ["does not match the checkpoint"]),
    "log-index": (with_field("log_index", lambda i: i + 1), ["inclusion proof does not lead"]),
    "key-id": (with_field("key_id", lambda k: "0" * 64), ["key_id is not the SHA-256"]),
    "public-key": (
        with_field("public_key", lambda k: b64(Signer.generate().public_key)),
        ["entry signature does not verify"],
    ),
    "bad-base64": (with_field("entry", lambda e: e + "!"), ["entry is not valid base64"]),
    "missing-field": (lambda p: p.pop("checkpoint"), ["missing field(s): checkpoint"]),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_named(ledger: Ledger, script: Path, tmp_path: Path, case: str) -> None:
    mutate, expected = TAMPERING[case]
    good = write(tmp_path / "good.json", ledger.proof(6))
    proof = ledger.proof(6)
    mutate(proof)
    bad = write(tmp_path / "bad.json", proof)
    result = run(script, good, bad)
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("OK ")
    assert lines[1].startswith(f"FAIL {bad}")
    for phrase in expected:
        assert phrase in lines[1], lines[1]
    # The in-process check agrees with the script.
    assert sv.check_entry(proof)


def test_unreadable_inputs_fail(script: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run(script, broken)
    assert result.returncode == 1 and "cannot read JSON" in result.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(script, empty)
    assert result.returncode == 1 and "no proof entries" in result.stdout
    result = run(script, write(tmp_path / "num.json", [42]))
    assert result.returncode == 1 and "not a JSON object" in result.stdout


def test_agrees_with_registry_verifiers(ledger: Ledger) -> None:
    for i in range(ledger.tree.size):
        proof = ledger.proof(i)
        assert sv.check_entry(proof) == []
        merkle.verify_inclusion(
            merkle.leaf_hash(ledger.entries[i]),
            i,
            ledger.tree.size,
            [base64.b64decode(h) for h in proof["inclusion_proof"]],
            ledger.tree.root(),
        )
    assert sv.verify_checkpoint(ledger.note, LOG_NAME, ledger.log_signer.public_key) == (
        ledger.tree.size,
        ledger.tree.root(),
    )
