#!/usr/bin/env python3
"""Verify provreg ledger proofs offline: ``python standalone_verify.py PROOF [PROOF ...]``.

Each PROOF is a JSON file holding one proof object, a list of them, or a directory of such
files. A proof object (what ``provreg proof --json`` emits)::

    {"entry": b64 canonical verdict bytes, "signature": b64, "key_id": hex,
     "public_key": b64 raw Ed25519, "log_index": n, "tree_size": n,
     "inclusion_proof": [b64, ...], "checkpoint": "<signed note text>",
     "checkpoint_public_key": b64 raw Ed25519, "checkpoint_key_name": str}

For every entry it checks that

1. ``key_id`` is the hex SHA-256 of ``public_key``;
2. ``signature`` is the Ed25519 signature of the entry bytes under ``public_key``;
3. the checkpoint is a C2SP signed note (c2sp.org/signed-note) carrying a valid Ed25519
   signature by ``checkpoint_key_name`` / ``checkpoint_public_key``;
4. ``tree_size`` equals the checkpoint's tree size (c2sp.org/tlog-checkpoint);
5. the RFC 9162 leaf hash SHA-256(0x00 || entry) is included at ``log_index`` in the tree
   whose root the checkpoint signs (RFC 9162 §2.1.3.2).

It prints one line per entry (``OK`` or ``FAIL`` with every check that failed) and exits 0
only if every entry passed, 1 otherwise (2 for bad usage).

The keys inside a proof file only show that the file is self-consistent. To show it comes from
a particular registry, pin its keys: ``--log-key NAME=KEY`` (hex or base64) for the checkpoint
key and ``--key-id HEX`` for verdict signing keys (both repeatable).

This file deliberately imports nothing from the ``registry`` package and needs only the Python
standard library and ``cryptography``: it is copied into evidence bundles so that a third party
can check them without installing provreg, and a verifier should be small enough to read in
one sitting. The few hash and verification lines it shares with ``registry.merkle`` and
``registry.checkpoint`` are duplicated on purpose; the test suite runs both on the same data.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FIELDS = (
    "entry",
    "signature",
    "key_id",
    "public_key",
    "log_index",
    "tree_size",
    "inclusion_proof",
    "checkpoint",
    "checkpoint_public_key",
    "checkpoint_key_name",
)


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


# --- RFC 9162 (duplicated from registry.merkle on purpose) ---------------------------------


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


# --- C2SP signed-note checkpoint (duplicated from registry.checkpoint on purpose) ------------


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


# --- one entry -------------------------------------------------------------------------------


def check_entry(
    obj: Any, log_keys: dict[str, bytes] | None = None, key_ids: set[str] | None = None
) -> list[str]:
    """Every failed check for one proof object (empty when it all holds)."""
    if not isinstance(obj, dict):
        return ["proof is not a JSON object"]
    missing = [f for f in FIELDS if f not in obj]
    if missing:
        return [f"missing field(s): {', '.join(missing)}"]
    problems: list[str] = []

    def attempt(check: Any) -> Any:
        try:
            return check()
        except Failure as exc:
            problems.append(str(exc))
            return None

    entry = attempt(lambda: b64(obj["entry"], "entry"))
    public_key = attempt(lambda: b64(obj["public_key"], "public_key"))
    signature = attempt(lambda: b64(obj["signature"], "signature"))
    if public_key is not None:
        if not isinstance(obj["key_id"], str) or not hmac.compare_digest(
            obj["key_id"].lower(), hashlib.sha256(public_key).hexdigest()
        ):
            problems.append("key_id is not the SHA-256 of public_key")
        elif key_ids is not None and obj["key_id"].lower() not in key_ids:
            problems.append(f"key_id {obj['key_id']} is not one of the pinned --key-id values")
        if (
            entry is not None
            and signature is not None
            and not ed25519_verify(public_key, signature, entry)
        ):
            problems.append("entry signature does not verify")

    name = obj["checkpoint_key_name"]
    log_key = attempt(lambda: b64(obj["checkpoint_public_key"], "checkpoint_public_key"))
    if log_keys is not None and isinstance(name, str) and log_key is not None:
        pinned = log_keys.get(name)
        if pinned is None or not hmac.compare_digest(pinned, log_key):
            problems.append(f"checkpoint key {name} is not the pinned --log-key")
    head = None
    if isinstance(name, str) and log_key is not None:
        head = attempt(lambda: verify_checkpoint(obj["checkpoint"], name, log_key))
    elif not isinstance(name, str):
        problems.append("checkpoint_key_name is not a string")

    index = attempt(lambda: count(obj["log_index"], "log_index"))
    size = attempt(lambda: count(obj["tree_size"], "tree_size"))
    proof_field = obj["inclusion_proof"]
    proof: Any = None
    if isinstance(proof_field, list):
        proof = attempt(lambda: [b64(p, "inclusion_proof element") for p in proof_field])
    else:
        problems.append("inclusion_proof is not a list")
    if head is not None and size is not None and head[0] != size:
        problems.append(f"tree_size {size} does not match the checkpoint's {head[0]}")
    elif head is not None and None not in (entry, index, size, proof):
        attempt(lambda: verify_inclusion(leaf_hash(entry), index, size, proof, head[1]))
    return problems


def load(paths: list[Path]) -> Iterator[tuple[str, Any]]:
    """(label, proof object) for every entry in the files and directories given."""
    for path in paths:
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                yield str(file), Failure(f"cannot read JSON: {exc}")
                continue
            if isinstance(data, list):
                for i, item in enumerate(data):
                    yield f"{file}[{i}]", item
            else:
                yield str(file), data


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
    attempts = [wanted] if wanted else (
        ["hex"] if len(body) == 2 * ED25519_PUBLIC_KEY_BYTES else ["base64"])
    for encoding in attempts:
        try:
            raw = bytes.fromhex(body) if encoding == "hex" else base64.b64decode(
                body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"public key is not valid {encoding}") from exc
        if len(raw) != ED25519_PUBLIC_KEY_BYTES:
            raise argparse.ArgumentTypeError(
                f"public key is {len(raw)} bytes as {encoding}; an Ed25519 key is 32 "
                "(give it in hex, 64 characters, or base64, 44 characters)")
        return raw, encoding
    raise argparse.ArgumentTypeError("public key is neither hex nor base64")


def _parse_log_key(text: str) -> tuple[str, bytes, str]:
    name, sep, encoded = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("expected NAME=PUBLIC_KEY (hex or base64)")
    raw, encoding = parse_public_key(encoded)
    return name, raw, encoding


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="proof JSON files or directories")
    parser.add_argument(
        "--log-key",
        action="append",
        type=_parse_log_key,
        default=None,
        help="pin a checkpoint key: NAME=KEY, KEY in hex (as `provreg keys list` and the "
        ".pub files show it) or base64 (as in proof files) (repeatable)",
    )
    parser.add_argument(
        "--key-id",
        action="append",
        default=None,
        help="pin a verdict signing key id, hex (repeatable)",
    )
    args = parser.parse_args(argv)
    log_keys = {name: raw for name, raw, _ in args.log_key} if args.log_key else None
    for name, _, encoding in args.log_key or []:
        print(f"note: --log-key {name}: read as {encoding}")
    key_ids = {k.lower() for k in args.key_id} if args.key_id else None
    seen = failed = 0
    for label, obj in load(args.paths):
        seen += 1
        problems = [str(obj)] if isinstance(obj, Failure) else check_entry(obj, log_keys, key_ids)
        if problems:
            failed += 1
            print(f"FAIL {label}: {'; '.join(problems)}")
        else:
            print(f"OK   {label}: log_index {obj['log_index']} in tree of {obj['tree_size']}")
    if not seen:
        print("FAIL no proof entries found")
        return 1
    if log_keys is None and key_ids is None:
        print("note: keys were taken from the proof files; pin them with --log-key NAME=KEY "
              "(hex or base64) / --key-id")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
