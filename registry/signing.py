"""Ed25519 signing and verification of ledger bytes.

Signing goes through libsodium (PyNaCl): it signs a verdict record in about half the time
of ``cryptography``'s OpenSSL binding here (docs/benchmarks.md, "Ledger") and releases the GIL
while it works, and the ledger signs every verdict. Ed25519 signatures are deterministic
(RFC 8032), so both produce the same bytes from the same raw key; keys are still created,
stored and loaded with ``cryptography``, and verification (like ``standalone_verify.py``)
needs only ``cryptography``.

A :class:`Signer` holds one private key; a :class:`Verifier` holds every trusted public key
by key id, so verdicts signed before a rotation still verify. Verification returns nothing or
raises (:class:`~registry.errors.SignatureError`, :class:`~registry.errors.UnknownKeyError`).
The :class:`KeyStore` keeps keys on disk under ``PROVREG_HOME/keys``: private keys as PEM
files created with mode 0600, public keys beside them, and the active key id in ``ACTIVE``.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import nacl.bindings
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from registry.errors import KeyStoreError, SignatureError, UnknownKeyError


def key_id_for(public_key: bytes) -> str:
    """The key id: hex SHA-256 of the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Signer:
    """Signs bytes with one Ed25519 private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key: bytes = _raw_public(private_key.public_key())
        self.key_id: str = key_id_for(self.public_key)
        seed = private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public, self._sodium_secret = nacl.bindings.crypto_sign_seed_keypair(seed)
        if public != self.public_key:
            raise KeyStoreError("libsodium derived a different public key from this seed")

    @classmethod
    def generate(cls) -> Signer:
        """A signer with a fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data`` (thread-safe)."""
        signed: bytes = nacl.bindings.crypto_sign(data, self._sodium_secret)
        return signed[: nacl.bindings.crypto_sign_BYTES]

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (for the key store only)."""
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


class Verifier:
    """Verifies Ed25519 signatures against a set of trusted public keys."""

    def __init__(self, public_keys: Mapping[str, bytes]) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        for key_id, raw in public_keys.items():
            if key_id_for(raw) != key_id:
                raise UnknownKeyError(f"key id {key_id} does not match its public key")
            self._keys[key_id] = Ed25519PublicKey.from_public_bytes(raw)

    @property
    def key_ids(self) -> frozenset[str]:
        """The ids of every trusted key."""
        return frozenset(self._keys)

    def verify(self, key_id: str, data: bytes, signature: bytes) -> None:
        """Return if ``signature`` is ``key_id``'s signature over ``data``; raise otherwise."""
        key = self._keys.get(key_id)
        if key is None:
            raise UnknownKeyError(f"no trusted public key with id {key_id}")
        try:
            key.verify(signature, data)
        except InvalidSignature as exc:
            raise SignatureError(f"signature does not verify under key {key_id}") from exc


@dataclass(frozen=True)
class StoredKey:
    """A key known to the key store: its id, raw public key, and whether it signs now."""

    key_id: str
    public_key: bytes
    active: bool


class KeyStore:
    """Signing keys on disk; rotation keeps every old public key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def _active_file(self) -> Path:
        return self.directory / "ACTIVE"

    def exists(self) -> bool:
        """Whether an active signing key is present."""
        return self._active_file.is_file()

    def ensure(self) -> Signer:
        """The active signer, creating a first key if the store is empty."""
        if not self.exists():
            return self.rotate()
        return self.active_signer()

    def rotate(self) -> Signer:
        """Create a new key, make it active, and drop the old private key (public kept)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        previous = self._active_id() if self.exists() else None
        signer = Signer.generate()
        private_path = self.directory / f"{signer.key_id}.key"
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(signer.private_pem())
        (self.directory / f"{signer.key_id}.pub").write_bytes(signer.public_key.hex().encode())
        tmp = self._active_file.with_suffix(".tmp")
        tmp.write_text(signer.key_id + "\n")
        tmp.replace(self._active_file)
        if previous is not None:
            (self.directory / f"{previous}.key").unlink(missing_ok=True)
        return signer

    def _active_id(self) -> str:
        try:
            return self._active_file.read_text().strip()
        except OSError as exc:
            raise KeyStoreError(f"cannot read active key id in {self.directory}: {exc}") from exc

    def active_signer(self) -> Signer:
        """Load the active private key, refusing one readable by group or others."""
        key_id = self._active_id()
        path = self.directory / f"{key_id}.key"
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise KeyStoreError(f"{path} has mode {mode:o}; it must be 0600")
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"cannot load signing key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyStoreError(f"{path} is not an Ed25519 private key")
        signer = Signer(key)
        if signer.key_id != key_id:
            raise KeyStoreError(f"{path} does not hold key {key_id}")
        return signer

    def keys(self) -> list[StoredKey]:
        """Every key the store knows, oldest file first."""
        active = self._active_id() if self.exists() else None
        result = []
        paths = sorted(self.directory.glob("*.pub"), key=lambda p: p.stat().st_mtime_ns)
        for path in paths:
            raw = bytes.fromhex(path.read_text().strip())
            result.append(StoredKey(key_id_for(raw), raw, key_id_for(raw) == active))
        return result

    def verifier(self) -> Verifier:
        """A verifier trusting every public key in the store."""
        return Verifier({key.key_id: key.public_key for key in self.keys()})
