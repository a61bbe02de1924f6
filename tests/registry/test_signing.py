"""Signing keys: generation, file permissions, rotation, fail-closed verification."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.errors import KeyStoreError, SignatureError, UnknownKeyError
from registry.ledger.signing import KeyStore, Signer, Verifier, key_id_for


def test_sign_and_verify_round_trip() -> None:
    signer = Signer.generate()
    verifier = Verifier({signer.key_id: signer.public_key})
    signature = signer.sign(b"verdict")
    assert verifier.verify(signer.key_id, b"verdict", signature) is None
    with pytest.raises(SignatureError):
        verifier.verify(signer.key_id, b"verdicT", signature)
    with pytest.raises(SignatureError):
        verifier.verify(signer.key_id, b"verdict", bytes(64))
    with pytest.raises(UnknownKeyError):
        verifier.verify("00" * 32, b"verdict", signature)


def test_libsodium_signatures_equal_cryptography_signatures() -> None:
    """Ed25519 is deterministic: the libsodium signer and OpenSSL give the same bytes."""
    private = Ed25519PrivateKey.generate()
    signer = Signer(private)
    for message in (b"", b"verdict", bytes(range(256)) * 9):
        assert signer.sign(message) == private.sign(message)
        private.public_key().verify(signer.sign(message), message)


def test_key_id_is_hash_of_public_key() -> None:
    signer = Signer.generate()
    assert signer.key_id == key_id_for(signer.public_key) and len(signer.key_id) == 64
    with pytest.raises(UnknownKeyError):
        Verifier({"ab" * 32: signer.public_key})


def test_private_key_file_is_0600_and_rotation_keeps_old_public_keys(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    first = store.ensure()
    key_file = tmp_path / "keys" / f"{first.key_id}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    old_signature = first.sign(b"old verdict")
    second = store.rotate()
    assert second.key_id != first.key_id
    assert store.active_signer().key_id == second.key_id
    assert not key_file.exists()  # the retired private key is gone
    verifier = store.verifier()
    verifier.verify(first.key_id, b"old verdict", old_signature)
    verifier.verify(second.key_id, b"new", second.sign(b"new"))
    assert [k.active for k in store.keys()] == [False, True]


def test_refuses_a_world_readable_private_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    signer = store.ensure()
    os.chmod(tmp_path / "keys" / f"{signer.key_id}.key", 0o644)
    with pytest.raises(KeyStoreError, match="0600"):
        store.active_signer()
