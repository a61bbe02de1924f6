"""C2SP signed-note checkpoints: round trip, tampering, known answers."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.errors import CheckpointError
from registry.ledger import checkpoint as cp
from registry.ledger.signing import Signer

# golang.org/x/mod/sumdb/note's documented example key and note (the reference implementation
# of signed notes): the private key seed is the skey's base64 payload after the 0x01 type byte.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)

ORIGIN = "provreg.example/log"
ROOT = bytes(range(32))


def go_signer() -> Signer:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
    return Signer(Ed25519PrivateKey.from_private_bytes(seed))


@pytest.fixture
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture
def note(signer: Signer) -> str:
    return cp.sign_checkpoint(cp.Checkpoint(ORIGIN, 12_345, ROOT), signer, ORIGIN)


def test_known_answer_key_hash_and_vkey() -> None:
    signer = go_signer()
    assert cp.key_hash("PeterNeumann", signer.public_key).hex() == "c74f20a3"
    assert cp.vkey("PeterNeumann", signer.public_key) == GO_VKEY
    assert cp.parse_vkey(GO_VKEY) == ("PeterNeumann", signer.public_key)
    blob = cp.key_hash("PeterNeumann", signer.public_key) + signer.sign(GO_TEXT.encode())
    assert base64.b64encode(blob).decode() == GO_SIG  # Ed25519 is deterministic


def test_body_format() -> None:
    checkpoint = cp.Checkpoint(ORIGIN, 0, ROOT)
    assert checkpoint.body() == f"{ORIGIN}\n0\n{base64.b64encode(ROOT).decode()}\n"
    with_ext = cp.Checkpoint(ORIGIN, 7, ROOT, ("ext one", "ext two"))
    assert with_ext.body().endswith("\next one\next two\n")


def test_round_trip(signer: Signer, note: str) -> None:
    assert note.startswith(f"{ORIGIN}\n12345\n{base64.b64encode(ROOT).decode()}\n\n— {ORIGIN} ")
    assert note.endswith("\n")
    parsed, lines = cp.parse_checkpoint(note)
    assert parsed == cp.Checkpoint(ORIGIN, 12_345, ROOT)
    assert len(lines) == 1 and lines[0].startswith("— ")
    sig = cp.parse_signature_line(lines[0])
    assert sig.key_hash == cp.key_hash(ORIGIN, signer.public_key) and len(sig.signature) == 64
    assert cp.verify_checkpoint(note, {ORIGIN: signer.public_key}) == parsed
    assert cp.verify_checkpoint(note, [cp.vkey(ORIGIN, signer.public_key)]) == parsed
    assert cp.verify_checkpoint(note.encode(), {ORIGIN: signer.public_key}, origin=ORIGIN)
    with pytest.raises(CheckpointError):
        cp.verify_checkpoint(note, {ORIGIN: signer.public_key}, origin="other.example/log")


def test_go_note_signature_verifies_under_vkey() -> None:
    # The Go example note has no checkpoint body, so only its signature layer can pass.
    go_note = GO_TEXT + "\n— PeterNeumann " + GO_SIG + "\n"
    with pytest.raises(CheckpointError, match="origin, size and root"):
        cp.verify_checkpoint(go_note, [GO_VKEY])
    tampered = go_note.replace("cryptography", "cryptographY")
    with pytest.raises(CheckpointError, match="does not verify"):
        cp.verify_checkpoint(tampered, [GO_VKEY])


def test_extension_lines_are_signed_and_kept(signer: Signer) -> None:
    checkpoint = cp.Checkpoint(ORIGIN, 3, ROOT, ("timestamp 1700000000",))
    note = cp.sign_checkpoint(checkpoint, signer, ORIGIN)
    assert cp.verify_checkpoint(note, {ORIGIN: signer.public_key}) == checkpoint
    with pytest.raises(CheckpointError):
        cp.verify_checkpoint(
            note.replace("timestamp 1700000000", "timestamp 1700000001"),
            {ORIGIN: signer.public_key},
        )


@pytest.mark.parametrize(
    "mutate",
    [
        lambda n: n.replace("\n12345\n", "\n12346\n", 1),
        lambda n: n.replace("\n12345\n", "\n012345\n", 1),
        lambda n: n.replace(ORIGIN + "\n", "evil.example/log\n", 1),
        lambda n: n.replace(base64.b64encode(ROOT).decode(), base64.b64encode(ROOT[::-1]).decode()),
        lambda n: n.replace("\n\n—", "\n—"),  # no blank line
        lambda n: n[:-1],  # no final newline
        lambda n: n.replace("— ", "- "),
        lambda n: n + "\n",
        lambda n: n.split("\n\n")[0] + "\n\n",  # signature stripped
        lambda n: n.replace("\n", "\r\n"),
        lambda n: "\x00" + n,
    ],
    ids=[
        "size",
        "size-leading-zero",
        "origin",
        "root",
        "no-blank-line",
        "no-final-newline",
        "hyphen-not-em-dash",
        "trailing-blank",
        "unsigned",
        "crlf",
        "control-char",
    ],
)
def test_tampered_note_is_rejected(signer: Signer, note: str, mutate: object) -> None:
    assert callable(mutate)
    with pytest.raises(CheckpointError):
        cp.verify_checkpoint(mutate(note), {ORIGIN: signer.public_key})


def test_every_signature_byte_matters(signer: Signer, note: str) -> None:
    body, line = note[:-1].rsplit("\n", 1)
    name, encoded = line[2:].split(" ")
    raw = base64.b64decode(encoded)
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        forged = f"{body}\n— {name} {base64.b64encode(bytes(bad)).decode()}\n"
        with pytest.raises(CheckpointError):
            cp.verify_checkpoint(forged, {ORIGIN: signer.public_key})


def test_unknown_keys(signer: Signer, note: str) -> None:
    other = Signer.generate()
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        cp.verify_checkpoint(note, {ORIGIN: other.public_key})
    with pytest.raises(CheckpointError):
        cp.verify_checkpoint(note, {"other.example/log": signer.public_key})
    with pytest.raises(CheckpointError):
        cp.verify_checkpoint(note, {})


def test_foreign_signatures_are_ignored(signer: Signer, note: str) -> None:
    witness = Signer.generate()
    body = cp.parse_checkpoint(note)[0].body()
    blob = cp.key_hash("witness.example", witness.public_key) + witness.sign(body.encode())
    cosigned = note + f"— witness.example {base64.b64encode(blob).decode()}\n"
    trusted = {ORIGIN: signer.public_key}
    assert cp.verify_checkpoint(cosigned, trusted).size == 12_345
    assert cp.verify_checkpoint(cosigned, {"witness.example": witness.public_key}).size == 12_345
    # A trusted key's bad signature rejects the whole note, even beside a good one.
    bad = bytearray(blob)
    bad[10] ^= 1
    spoiled = note + f"— witness.example {base64.b64encode(bytes(bad)).decode()}\n"
    both = {ORIGIN: signer.public_key, "witness.example": witness.public_key}
    with pytest.raises(CheckpointError):
        cp.verify_checkpoint(spoiled, both)


def test_bad_inputs_raise_checkpoint_error(signer: Signer) -> None:
    with pytest.raises(CheckpointError):
        cp.Checkpoint("", 1, ROOT)
    with pytest.raises(CheckpointError):
        cp.Checkpoint("a\nb", 1, ROOT)
    with pytest.raises(CheckpointError):
        cp.Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(CheckpointError):
        cp.Checkpoint(ORIGIN, 1, ROOT[:31])
    with pytest.raises(CheckpointError):
        cp.Checkpoint(ORIGIN, 1, ROOT, ("",))
    for name in ("", "has space", "has+plus"):
        with pytest.raises(CheckpointError):
            cp.sign_checkpoint(cp.Checkpoint(ORIGIN, 1, ROOT), signer, name)
    good = cp.vkey(ORIGIN, signer.public_key)
    for bad in (good + "x", good.replace("+", "-", 1), good.upper(), "a+b", good[:-4]):
        with pytest.raises(CheckpointError):
            cp.verify_checkpoint("x\n\n— x AAAAAAA=\n", [bad])
    with pytest.raises(CheckpointError):
        cp.parse_checkpoint(b"\xff\xfe")


def test_vkey_whose_base64_contains_a_plus() -> None:
    for _ in range(200):
        signer = Signer.generate()
        key = cp.vkey("plus.example/log", signer.public_key)
        if "+" in key.split("+", 2)[2]:
            break
    else:  # pragma: no cover - (63/64)**44 per try; 200 misses in a row do not happen
        pytest.fail("no key with '+' in its base64 found")
    assert cp.parse_vkey(key) == ("plus.example/log", signer.public_key)
    note = cp.sign_checkpoint(cp.Checkpoint(ORIGIN, 1, ROOT), signer, "plus.example/log")
    assert cp.verify_checkpoint(note, [key]).size == 1
