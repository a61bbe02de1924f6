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
Each file is written to a temporary file, fsynced and renamed into place, so a full disk or a
crash never leaves a half-written key where :meth:`KeyStore.keys` would list it; a key that
could not be written completely is removed again and reported as a
:class:`~registry.errors.KeyStoreError`.
"""

from __future__ import annotations

import hashlib
import logging
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

from detectors.atomic import write_atomically
from registry.errors import KeyStoreError, SignatureError, UnknownKeyError

log = logging.getLogger(__name__)


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
        previous = self._active_id() if self.exists() else None
        signer = Signer.generate()
        private_path = self.directory / f"{signer.key_id}.key"
        public_path = self.directory / f"{signer.key_id}.pub"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
            # Temporary files are created 0600; each appears under its name only complete.
            write_atomically(private_path, lambda handle: handle.write(signer.private_pem()))
            write_atomically(
                public_path, lambda handle: handle.write(signer.public_key.hex().encode())
            )
            write_atomically(
                self._active_file, lambda handle: handle.write(f"{signer.key_id}\n".encode())
            )
        except OSError as exc:
            if self._active_id_or_none() != signer.key_id:
                private_path.unlink(missing_ok=True)
                public_path.unlink(missing_ok=True)
            raise KeyStoreError(
                f"cannot create a signing key in {self.directory}: "
                f"{exc.strerror or exc}; nothing was changed"
            ) from exc
        if previous is not None:
            (self.directory / f"{previous}.key").unlink(missing_ok=True)
        return signer

    def _active_id_or_none(self) -> str | None:
        try:
            return self._active_file.read_text().strip() if self.exists() else None
        except OSError:
            return None

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
            try:
                raw = bytes.fromhex(path.read_text().strip())
            except (OSError, ValueError) as exc:
                raise KeyStoreError(f"cannot read public key {path}: {exc}") from exc
            if len(raw) != 32:  # left by a version that wrote keys in place: not a key
                log.warning("ignoring %s: not a 32-byte Ed25519 public key", path)
                continue
            result.append(StoredKey(key_id_for(raw), raw, key_id_for(raw) == active))
        return result

    def verifier(self) -> Verifier:
        """A verifier trusting every public key in the store."""
        return Verifier({key.key_id: key.public_key for key in self.keys()})
