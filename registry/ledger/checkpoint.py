"""Log checkpoints as C2SP signed notes (c2sp.org/tlog-checkpoint, c2sp.org/signed-note).

A checkpoint note is::

    <origin>
    <tree size>
    <base64 root hash>
    [extension lines]

    — <key name> <base64(4-byte key hash || Ed25519 signature)>

The key hash is ``SHA-256(key name || 0x0A || 0x01 || public key)[:4]``. Verification fails
closed: anything malformed, a failing signature from a trusted key, or no verifying signature
from a trusted key raises :class:`~registry.errors.CheckpointError`. Signatures from unknown
keys are ignored, as the signed-note spec requires (they may be witnesses' cosignatures).

Written here rather than taken from a library: no maintained Python package implements signed
notes; the format is a few lines of text handling, checked against the Go sumdb/note
known-answer vector in the tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.errors import CheckpointError

__all__ = [
    "Checkpoint",
    "NoteSignature",
    "NoteSigner",
    "key_hash",
    "parse_checkpoint",
    "parse_signature_line",
    "parse_vkey",
    "sign_checkpoint",
    "verify_checkpoint",
    "vkey",
]

ED25519_TYPE = b"\x01"
EM_DASH = "\u2014"
MAX_SIGNATURES = 100
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")
_HEX8_RE = re.compile(r"[0-9a-f]{8}")


class NoteSigner(Protocol):
    """What signing a note needs (``registry.ledger.signing.Signer`` fits)."""

    public_key: bytes

    def sign(self, data: bytes) -> bytes:
        """An Ed25519 signature of ``data``."""
        ...


def _check_text_line(line: str, what: str) -> None:
    if not line:
        raise CheckpointError(f"{what} is empty")
    if any(ord(ch) < 0x20 for ch in line):
        raise CheckpointError(f"{what} contains a control character or newline")


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: the log's origin, its size and its RFC 9162 root hash."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_text_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise CheckpointError(f"tree size must be a non-negative integer: {self.size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != 32:
            raise CheckpointError("root hash must be 32 bytes")
        for line in self.extensions:
            _check_text_line(line, "extension line")

    def body(self) -> str:
        """The note text: origin, size, base64 root and extension lines, each ending in \\n."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(line + "\n" for line in (*lines, *self.extensions))


def _check_key_name(name: str) -> None:
    if not name or any(ch.isspace() or ch == "+" for ch in name):
        raise CheckpointError(f"key name {name!r} is empty or has spaces or '+'")
    if any(ord(ch) < 0x20 for ch in name):
        raise CheckpointError("key name contains a control character")


def key_hash(key_name: str, public_key: bytes) -> bytes:
    """The signed-note Ed25519 key hash: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    data = key_name.encode() + b"\n" + ED25519_TYPE + public_key
    return hashlib.sha256(data).digest()[:4]


def vkey(key_name: str, public_key: bytes) -> str:
    """The signed-note verifier key ``<name>+<hex key hash>+<base64(0x01 || key)>``."""
    _check_key_name(key_name)
    if len(public_key) != 32:
        raise CheckpointError("Ed25519 public key must be 32 bytes")
    encoded = base64.b64encode(ED25519_TYPE + public_key).decode()
    return f"{key_name}+{key_hash(key_name, public_key).hex()}+{encoded}"


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise CheckpointError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode() != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return raw


@dataclass(frozen=True)
class _TrustedKey:
    name: str
    hash: bytes
    key: Ed25519PublicKey


def parse_vkey(text: str) -> tuple[str, bytes]:
    """Parse a verifier key into ``(key name, raw public key)``; checks its key hash."""
    parts = text.split("+", 2)  # the base64 key may itself contain "+"
    if len(parts) != 3:
        raise CheckpointError(f"verifier key {text!r} is not name+hash+key")
    name, hex_hash, encoded = parts
    _check_key_name(name)
    if not _HEX8_RE.fullmatch(hex_hash):
        raise CheckpointError(f"verifier key hash {hex_hash!r} is not 8 lowercase hex digits")
    raw = _b64decode(encoded, "verifier key")
    if len(raw) != 33 or raw[:1] != ED25519_TYPE:
        raise CheckpointError("verifier key is not an Ed25519 (type 0x01) key")
    public_key = raw[1:]
    if key_hash(name, public_key).hex() != hex_hash:
        raise CheckpointError(f"verifier key hash {hex_hash} does not match its key")
    return name, public_key


def _trusted_keys(trusted: Mapping[str, bytes] | Iterable[str]) -> list[_TrustedKey]:
    pairs: list[tuple[str, bytes]]
    if isinstance(trusted, Mapping):
        pairs = list(trusted.items())
    elif isinstance(trusted, str):
        pairs = [parse_vkey(trusted)]
    else:
        pairs = [parse_vkey(v) for v in trusted]
    keys = []
    for name, public_key in pairs:
        _check_key_name(name)
        try:
            key = Ed25519PublicKey.from_public_bytes(public_key)
        except ValueError as exc:
            raise CheckpointError(f"trusted key for {name!r} is not an Ed25519 key") from exc
        keys.append(_TrustedKey(name, key_hash(name, public_key), key))
    if not keys:
        raise CheckpointError("no trusted keys given")
    return keys


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner, key_name: str) -> str:
    """The checkpoint as a signed note: body, blank line, one Ed25519 signature line."""
    _check_key_name(key_name)
    body = checkpoint.body()
    signature = signer.sign(body.encode())
    blob = base64.b64encode(key_hash(key_name, signer.public_key) + signature).decode()
    return f"{body}\n{EM_DASH} {key_name} {blob}\n"


@dataclass(frozen=True)
class NoteSignature:
    """One parsed signature line."""

    key_name: str
    key_hash: bytes
    signature: bytes


def parse_signature_line(line: str) -> NoteSignature:
    """Parse ``— <name> <base64(key hash || signature)>`` (no trailing newline)."""
    prefix = EM_DASH + " "
    if not line.startswith(prefix):
        raise CheckpointError("signature line does not start with an em dash and a space")
    parts = line[len(prefix) :].split(" ")
    if len(parts) != 2:
        raise CheckpointError("signature line is not '— <name> <signature>'")
    name, encoded = parts
    _check_key_name(name)
    raw = _b64decode(encoded, "signature")
    if len(raw) < 5:
        raise CheckpointError("signature is too short to hold a key hash and a signature")
    return NoteSignature(name, raw[:4], raw[4:])


def _split_note(note: str | bytes) -> tuple[str, list[str]]:
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError("note is not valid UTF-8") from exc
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise CheckpointError("note contains a control character other than newline")
    if not note.endswith("\n"):
        raise CheckpointError("note does not end with a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise CheckpointError("note has no blank line before its signatures")
    text, signature_block = note[: cut + 1], note[cut + 2 :]
    lines = signature_block[:-1].split("\n") if signature_block else []
    if not lines:
        raise CheckpointError("note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"note has more than {MAX_SIGNATURES} signatures")
    return text, lines


def _parse_body(text: str) -> Checkpoint:
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs origin, size and root hash lines")
    origin, size_text, root_text, *extensions = lines
    if not _SIZE_RE.fullmatch(size_text):
        raise CheckpointError(f"tree size {size_text!r} is not a decimal without leading zeros")
    return Checkpoint(origin, int(size_text), _b64decode(root_text, "root hash"), tuple(extensions))


def parse_checkpoint(note: str | bytes) -> tuple[Checkpoint, list[str]]:
    """Split a signed checkpoint note into its (unverified) checkpoint and signature lines.

    Only for display or routing: trust nothing in it before :func:`verify_checkpoint`.
    """
    text, lines = _split_note(note)
    for line in lines:
        parse_signature_line(line)
    return _parse_body(text), lines


def verify_checkpoint(
    note: str | bytes,
    trusted: Mapping[str, bytes] | Iterable[str],
    origin: str | None = None,
) -> Checkpoint:
    """The checkpoint, if a trusted key signed ``note``; raise :class:`CheckpointError` if not.

    ``trusted`` maps key names to raw Ed25519 public keys, or lists verifier keys
    (:func:`vkey`). A trusted key's failing signature rejects the whole note. When ``origin``
    is given the checkpoint must carry it.
    """
    keys = _trusted_keys(trusted)
    text, lines = _split_note(note)
    signatures = [parse_signature_line(line) for line in lines]
    verified = 0
    for sig in signatures:
        for key in keys:
            if key.name != sig.key_name or key.hash != sig.key_hash:
                continue
            try:
                key.key.verify(sig.signature, text.encode())
            except InvalidSignature as exc:
                raise CheckpointError(f"signature by {sig.key_name} does not verify") from exc
            verified += 1
    if not verified:
        raise CheckpointError("no signature from a trusted key")
    checkpoint = _parse_body(text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint
