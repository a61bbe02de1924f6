"""Registered watermark marks (secret payloads) and decoder manifests under ``PROVREG_HOME``.

A platform that partners with generator vendors holds their watermark keys: the bit strings
their encoders embed. ``provreg watermark add`` registers one; every ingest then tests
every registered mark on every image (the detector's Bonferroni family grows by each one)
and a positive verdict is labelled with the mark's name.

Keys are secrets. They are stored encrypted at rest in ``$PROVREG_HOME/watermark/keys.enc``
with AES-256-GCM (``cryptography``'s AESGCM; a fresh 96-bit nonce per write, the file's
purpose bound in as associated data). The 256-bit master key comes from
``PROVREG_WATERMARK_KEY`` (64 hex digits or url-safe base64) or from the file
``$PROVREG_HOME/watermark/master.key``, created with mode 0600 on first use; a key file
any group or other user may read is refused. The detector receives each mark with an
``id`` (an HMAC of the mark under the master key) that stands in for its bits in verdict
identity, and leaves decoded bits out of evidence; nothing here logs a key.

Decoder manifests (learned decoders, see ``detectors.watermark.learned``) are not secret: each
is a model-store entry of kind ``watermark-decoder`` (``registry.models``) whose blob is the
weight file, pinned by SHA-256; the detector gets the manifest with the blob's path.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from detectors.atomic import write_atomically
from registry.errors import ConfigurationError, KeyStoreError
from registry.models.store import ModelStore

if TYPE_CHECKING:
    from detectors.watermark.learned import DecoderManifest

# The detectors.watermark package is imported inside the functions that need it: importing
# it loads invisible-watermark, which imports torch, and every provreg command builds the
# watermark options (registry.app) without needing either.

ENV_KEY = "PROVREG_WATERMARK_KEY"
_AAD = b"provreg watermark keys v1"
_NONCE = 12


DECODER_KIND = "watermark-decoder"
"""Model-store kind of learned watermark decoders."""


class WatermarkKeyError(ConfigurationError):
    """A mark cannot be added, found or removed; the message says which and why."""


@dataclass(frozen=True)
class MarkInfo:
    """What may be shown about a registered mark (never its bits)."""

    name: str
    method: str
    bits: int
    id: str


def parse_key_text(text: str) -> str:
    """A payload given as hex (``0x`` optional) or ``0b`` bits, as the detector's bit syntax."""
    spec = text.strip().replace("_", "").replace(" ", "")
    if spec[:2].lower() in ("0x", "0b"):
        return spec
    try:
        int(spec, 16)
    except ValueError:
        raise WatermarkKeyError(
            "the payload must be hex (0x optional) or 0b-prefixed bits"
        ) from None
    return "0x" + spec


class WatermarkKeyring:
    """The encrypted list of registered marks under ``home``."""

    def __init__(self, home: Path, environ: Mapping[str, str] | None = None) -> None:
        self.folder = Path(home) / "watermark"
        self.environ = os.environ if environ is None else environ

    @property
    def keys_file(self) -> Path:
        """The encrypted marks."""
        return self.folder / "keys.enc"

    @property
    def master_file(self) -> Path:
        """The master key file (when ``PROVREG_WATERMARK_KEY`` is not set)."""
        return self.folder / "master.key"

    def _master(self, create: bool) -> bytes:
        configured = self.environ.get(ENV_KEY)
        if configured:
            return _decode_master(configured.strip())
        path = self.master_file
        if not path.exists():
            if not create:
                raise KeyStoreError(f"no watermark master key: set {ENV_KEY} or create {path}")
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyStoreError(
                f"{path} has mode {mode:o}; the watermark master key must be 0600 (chmod 600)"
            )
        return _decode_master(path.read_text().strip())

    def _read(self, create: bool = False) -> list[dict[str, str]]:
        master = self._master(create)
        if not self.keys_file.exists():
            return []
        blob = self.keys_file.read_bytes()
        plain = _unseal(master, blob, _AAD, str(self.keys_file))
        entries = json.loads(plain)
        if not isinstance(entries, list):
            raise KeyStoreError(f"{self.keys_file}: unexpected content")
        return entries

    def _write(self, entries: list[dict[str, str]]) -> None:
        blob = self.seal(json.dumps(entries, sort_keys=True).encode(), _AAD)
        self.folder.mkdir(parents=True, exist_ok=True)
        # mkstemp files are 0600, so the replaced keys file never exists with looser modes.
        write_atomically(self.keys_file, lambda handle: handle.write(blob))

    def seal(self, plain: bytes, purpose: bytes) -> bytes:
        """``plain`` encrypted under the master key (AES-256-GCM, fresh nonce, ``purpose``
        bound in as associated data); other secret stores reuse this, e.g. weight keys."""
        nonce = secrets.token_bytes(_NONCE)
        return nonce + AESGCM(self._master(create=True)).encrypt(nonce, plain, purpose)

    def unseal(self, blob: bytes, purpose: bytes, where: str = "a sealed record") -> bytes:
        """Inverse of :meth:`seal`; :class:`KeyStoreError` if the key or ``purpose`` differ."""
        return _unseal(self._master(create=False), blob, purpose, where)

    def mac_id(self, data: bytes) -> str:
        """A 16-hex-digit HMAC-SHA-256 id of ``data`` under the master key (names a secret
        without revealing it)."""
        return hmac.new(self._master(create=True), data, hashlib.sha256).hexdigest()[:16]

    def _fingerprint(self, method: str, bits: str) -> str:
        mac = hmac.new(
            self._master(create=True),
            b"id\x00" + method.encode() + b"\x00" + bits.encode(),
            hashlib.sha256,
        )
        return mac.hexdigest()[:16]

    def add(
        self, name: str, method: str, key_text: str, decoders: Mapping[str, int] | None = None
    ) -> MarkInfo:
        """Register a mark (validated as the detector will read it); names are unique."""
        entries = self._read(create=True)
        if any(entry["name"] == name for entry in entries):
            raise WatermarkKeyError(f"a mark named {name!r} is already registered")
        from detectors.watermark.payloads import PayloadError, parse_payloads

        bits = parse_key_text(key_text)
        try:
            (payload,) = parse_payloads([{"name": name, "bits": bits, "method": method}], decoders)
        except PayloadError as exc:
            raise WatermarkKeyError(f"mark {name!r}: {_without(str(exc), bits)}") from None
        bit_string = "".join(str(b) for b in payload.bits)
        entry = {
            "name": name,
            "method": method,
            "bits": bit_string,
            "id": self._fingerprint(method, bit_string),
        }
        self._write([*entries, entry])
        return MarkInfo(name, method, payload.n, entry["id"])

    def remove(self, name: str) -> None:
        """Forget a mark; an unknown name is an error."""
        entries = self._read()
        kept = [entry for entry in entries if entry["name"] != name]
        if len(kept) == len(entries):
            raise WatermarkKeyError(f"no mark named {name!r} is registered")
        self._write(kept)

    def marks(self) -> list[MarkInfo]:
        """Registered marks without their bits."""
        if not self.keys_file.exists():
            return []
        return [MarkInfo(e["name"], e["method"], len(e["bits"]), e["id"]) for e in self._read()]

    def detector_payloads(self) -> list[dict[str, Any]]:
        """The ``payloads`` entries the watermark detector receives (secret, with ids)."""
        if not self.keys_file.exists():
            return []
        return [
            {
                "name": e["name"],
                "bits": "0b" + e["bits"],
                "method": e["method"],
                "secret": True,
                "id": e["id"],
            }
            for e in self._read()
        ]


class DecoderRegistry:
    """Learned-decoder manifests and their weight files, as model-store entries.

    Each decoder is an entry of kind :data:`DECODER_KIND` in ``$PROVREG_HOME/models`` (so
    ``provreg models list`` shows it): the blob is the weight file, pinned by its SHA-256, and
    the entry's ``config`` is the manifest. :meth:`manifests` resolves every entry to a
    manifest with the blob's ``path``; the detector hashes the file again before loading it.
    Manifests registered before the move (``$PROVREG_HOME/watermark/decoders.json`` with files
    under ``watermark/sha256/``) are still read.
    """

    def __init__(self, home: Path) -> None:
        self.folder = Path(home) / "watermark"
        self.store = ModelStore(Path(home) / "models")

    @property
    def manifests_file(self) -> Path:
        """Where manifests lived before they moved into the model store (read only)."""
        return self.folder / "decoders.json"

    def manifests(self) -> list[dict[str, Any]]:
        """Registered manifests with ``path`` (as the detector's ``decoders`` option takes them)."""
        found = [
            {
                **entry.config,
                "name": entry.name,
                "sha256": entry.sha256,
                "path": str(self.store.blob_path(entry.sha256)),
            }
            for entry in self.store.entries()
            if entry.kind == DECODER_KIND
        ]
        names = {m["name"] for m in found}
        if self.manifests_file.exists():
            legacy = json.loads(self.manifests_file.read_text())
            if not isinstance(legacy, list):
                raise WatermarkKeyError(f"{self.manifests_file}: expected a list of manifests")
            found += [
                {**m, "path": str(self.folder / "sha256" / str(m.get("sha256")))}
                for m in legacy
                if isinstance(m, dict) and m.get("name") not in names
            ]
        return found

    def add(self, manifest: Mapping[str, Any], weights: Path) -> DecoderManifest:
        """Copy ``weights`` into the model store and register ``manifest`` pinned to its hash."""
        from detectors.learned.files import sha256_file
        from detectors.watermark.files import DecoderFileError
        from detectors.watermark.learned import DecoderManifest

        digest = sha256_file(weights)
        if manifest.get("sha256") not in (None, digest):
            raise DecoderFileError(
                f"{weights} hashes to {digest}, the manifest pins {manifest['sha256']}"
            )
        parsed = DecoderManifest.from_mapping(
            {k: v for k, v in manifest.items() if k != "path"} | {"sha256": digest}
        )
        existing = {e.name: e for e in self.store.entries()}
        if parsed.name in existing and existing[parsed.name].kind != DECODER_KIND:
            raise DecoderFileError(
                f"model store entry {parsed.name!r} is a {existing[parsed.name].kind} model; "
                "give the decoder another name"
            )
        config = {k: v for k, v in parsed.as_json().items() if k not in ("name", "sha256")}
        self.store.add(
            parsed.name,
            weights,
            kind=DECODER_KIND,
            sha256=digest,
            fmt=parsed.format,
            config=config,
            source="provreg watermark add-decoder",
            replace=True,
        )
        return parsed


def watermark_options(home: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Options to merge into the watermark detector's: registered marks and decoders."""
    options: dict[str, Any] = {}
    manifests = DecoderRegistry(home).manifests()
    if manifests:
        options["decoders"] = manifests
    payloads = WatermarkKeyring(home, environ).detector_payloads()
    if payloads:
        options["payloads"] = payloads
    return options


def _decode_master(text: str) -> bytes:
    try:
        key = bytes.fromhex(text) if len(text) == 64 else base64.urlsafe_b64decode(text)
    except (ValueError, binascii.Error):
        raise KeyStoreError(
            "the watermark master key is neither 64 hex digits nor base64"
        ) from None
    if len(key) != 32:
        raise KeyStoreError(f"the watermark master key must be 32 bytes, got {len(key)}")
    return key


def _unseal(master: bytes, blob: bytes, purpose: bytes, where: str) -> bytes:
    try:
        return AESGCM(master).decrypt(blob[:_NONCE], blob[_NONCE:], purpose)
    except (InvalidTag, ValueError) as exc:
        raise KeyStoreError(
            f"{where} does not decrypt with this master key (wrong key or altered)"
        ) from exc


def _without(message: str, secret: str) -> str:
    return message.replace(secret, "<key>")
