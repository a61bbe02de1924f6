"""The proof checks of the standalone verifier: RFC 9162 Merkle inclusion and consistency,
C2SP signed-note checkpoints, Ed25519 signatures and public keys (hex or base64).

Part of the standalone verifier (``standalone_verify.py``, which also documents what is
checked and why these files stand alone): standard library and ``cryptography`` only,
nothing from provreg, so it travels in evidence bundles and next to the monitor. The few hash
and verification lines it shares with ``registry.ledger.merkle`` and ``registry.ledger.checkpoint``
are
duplicated on purpose; the test suite runs both on the same data.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Failure(Exception):
    """One check that did not pass."""


def b64(value: Any, what: str) -> bytes:
    """Strict standard base64 of a JSON string."""
    if not isinstance(value, str):
        raise Failure(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise Failure(f"{what} is not valid base64") from exc


def count(value: Any, what: str) -> int:
    """A non-negative JSON integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Failure(f"{what} is not a non-negative integer")
    return value


def ed25519_verify(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``data``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- RFC 9162 (duplicated from registry.ledger.merkle on purpose) ---------------------------------


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2; raises :class:`Failure`."""
    if index >= size:
        raise Failure(f"log_index {index} is not below tree_size {size}")
    if any(len(p) != 32 for p in proof) or len(root) != 32:
        raise Failure("inclusion proof hashes must be 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Failure("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Failure("inclusion proof is too short")
    if not hmac.compare_digest(r, root):
        raise Failure("inclusion proof does not lead to the checkpoint root")


def verify_consistency(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> None:
    """RFC 9162 §2.1.4.2 (with the equal-size and empty-tree cases); raises :class:`Failure`."""
    if any(len(p) != 32 for p in proof) or len(root1) != 32 or len(root2) != 32:
        raise Failure("consistency proof hashes must be 32 bytes")
    if size1 > size2:
        raise Failure(f"old size {size1} exceeds new size {size2}")
    if size1 == size2 or size1 == 0:
        if proof:
            raise Failure("consistency proof must be empty for these sizes")
        if size1 == size2 and not hmac.compare_digest(root1, root2):
            raise Failure("equal tree sizes with different roots")
        if size1 == 0 and root1 != hashlib.sha256(b"").digest():
            raise Failure("the empty tree's root must be SHA-256 of nothing")
        return
    if not proof:
        raise Failure("consistency proof is empty")
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Failure("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Failure("consistency proof is too short")
    if not hmac.compare_digest(fr, root1):
        raise Failure(f"consistency proof does not lead to the old root (size {size1})")
    if not hmac.compare_digest(sr, root2):
        raise Failure(f"consistency proof does not lead to the new root (size {size2})")


# --- C2SP signed-note checkpoint (duplicated from registry.ledger.checkpoint on purpose)
# ------------


def note_key_hash(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


def verify_checkpoint(note: Any, name: str, public_key: bytes) -> tuple[int, bytes]:
    """Check the note's signature by ``name``/``public_key``; return (tree size, root)."""
    if not isinstance(note, str) or not note.endswith("\n"):
        raise Failure("checkpoint is not a note ending in a newline")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise Failure("checkpoint contains a control character")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise Failure("checkpoint has no blank line before its signatures")
    text, lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    want = note_key_hash(name, public_key)
    verified = False
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014":
            raise Failure("checkpoint has a malformed signature line")
        blob = b64(parts[2], "checkpoint signature")
        if parts[1] != name or blob[:4] != want:
            continue  # someone else's signature (a witness, an old key): ignored per the spec
        if not ed25519_verify(public_key, blob[4:], text.encode()):
            raise Failure(f"checkpoint signature by {name} does not verify")
        verified = True
    if not verified:
        raise Failure(f"checkpoint carries no signature by {name} with the given key")
    body = text[:-1].split("\n")
    if len(body) < 3 or not body[0] or any(not line for line in body):
        raise Failure("checkpoint body is not origin, size, root hash")
    size_text = body[1]
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or (size_text != "0" and size_text[0] == "0")
    ):
        raise Failure("checkpoint tree size is not a canonical decimal")
    root = b64(body[2], "checkpoint root hash")
    if len(root) != 32:
        raise Failure("checkpoint root hash is not 32 bytes")
    return int(size_text), root


ED25519_PUBLIC_KEY_BYTES = 32


def parse_public_key(encoded: str) -> tuple[bytes, str]:
    """A raw Ed25519 public key written in hex or base64, and which encoding it was.

    ``provreg keys list`` and the ``.pub`` files show hex, proof bundles carry base64; both
    are accepted, optionally prefixed ``hex:`` or ``base64:``. The two cannot be confused for
    a 32-byte key: hex spells it in 64 characters, base64 in 44 ending with ``=``.
    """
    prefix, sep, rest = encoded.partition(":")
    wanted = prefix.lower() if sep and prefix.lower() in ("hex", "base64") else None
    body = rest if wanted else encoded
    attempts = (
        [wanted]
        if wanted
        else (["hex"] if len(body) == 2 * ED25519_PUBLIC_KEY_BYTES else ["base64"])
    )
    for encoding in attempts:
        try:
            raw = (
                bytes.fromhex(body) if encoding == "hex" else base64.b64decode(body, validate=True)
            )
        except (binascii.Error, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"public key is not valid {encoding}") from exc
        if len(raw) != ED25519_PUBLIC_KEY_BYTES:
            raise argparse.ArgumentTypeError(
                f"public key is {len(raw)} bytes as {encoding}; an Ed25519 key is 32 "
                "(give it in hex, 64 characters, or base64, 44 characters)"
            )
        return raw, encoding
    raise argparse.ArgumentTypeError("public key is neither hex nor base64")
