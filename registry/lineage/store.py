"""Registered models and owners' weight-watermark keys in PostgreSQL, and the detector options
built from them.

Keys are secrets: their JSON (bits, seed or positions) is sealed with the watermark master
key (:meth:`registry.models.watermark_keys.WatermarkKeyring.seal`, AES-256-GCM, purpose bound in as
associated data) before it reaches the database; the row keeps only the name, method,
layer names, bit count and an HMAC id. Nothing here logs or prints a key.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from detectors.model import ModelFormatError, is_model_folder, load_tensors, pack_folder
from detectors.model.manifest import Fingerprint, fingerprint, manifest_digest
from detectors.model.tensors import SAFETENSORS, sniff_model
from detectors.model.weight_marks import WeightKeyError, key_json, layers_of, parse_key
from registry.errors import ConfigurationError
from registry.lineage.models import LineageKey, LineageModel, LineageTensor
from registry.models.watermark_keys import WatermarkKeyring

_KEY_PURPOSE: Final = b"provreg lineage weight key v1"
#: Largest model file or folder ``register`` reads.
MAX_REGISTER_BYTES: Final = 8 * 1024**3


class LineageError(ConfigurationError):
    """A model or key cannot be registered, found or removed; the message says why."""

    hint = "see `provreg lineage --help`"


def read_model(path: Path, max_bytes: int = MAX_REGISTER_BYTES) -> tuple[bytes, str]:
    """The bytes and sniffed model type of a model file or folder (folders packed)."""
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        if not is_model_folder(path):
            raise LineageError(f"{path} is a folder but not a PEFT/diffusers model folder")
        try:
            return pack_folder(path, max_bytes), SAFETENSORS
        except ModelFormatError as exc:
            raise LineageError(f"{path}: {exc.reason}: {exc.detail}") from None
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        raise LineageError(f"{path} is not a regular file of at most {max_bytes} bytes")
    data = path.read_bytes()
    media_type = sniff_model(data[:4096])
    if media_type is None:
        raise LineageError(f"{path} is not a model file (safetensors, PyTorch, ONNX)")
    return data, media_type


def register_model(session: Session, name: str, path: Path) -> LineageModel:
    """Fingerprint the model at ``path`` and register it as ``name`` (names are unique)."""
    if session.scalar(select(LineageModel).where(LineageModel.name == name)) is not None:
        raise LineageError(f"a model named {name!r} is already registered")
    data, media_type = read_model(path)
    try:
        tensors = load_tensors(data, media_type)
    except ModelFormatError as exc:
        raise LineageError(f"{path}: {exc.reason}: {exc.detail}") from None
    prints = [fingerprint(t) for t in tensors]
    model = LineageModel(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        media_type=media_type,
        tensor_count=len(prints),
        parameters=sum(t.count for t in tensors),
        manifest_sha256=manifest_digest(prints),
    )
    session.add(model)
    session.flush()
    session.add_all(
        LineageTensor(
            model_id=model.id,
            name=p.name,
            dtype=p.dtype,
            shape=list(p.shape),
            sha256=p.sha256,
            multiset_hash=p.multiset_hash,
            sketch=p.sketch,
        )
        for p in prints
    )
    return model


def list_models(session: Session) -> list[LineageModel]:
    """Registered models by name."""
    return list(session.scalars(select(LineageModel).order_by(LineageModel.name)))


def remove_model(session: Session, name: str) -> None:
    """Forget a registered model (its fingerprints go with it)."""
    if session.execute(delete(LineageModel).where(LineageModel.name == name)).rowcount == 0:  # type: ignore[attr-defined]
        raise LineageError(f"no model named {name!r} is registered")


def references(session: Session) -> list[dict[str, Any]]:
    """Every registered model with its fingerprints, as ``model.lineage`` takes them."""
    out: dict[int, dict[str, Any]] = {
        m.id: {"name": m.name, "tensors": []} for m in list_models(session)
    }
    for row in session.scalars(select(LineageTensor).order_by(LineageTensor.id)):
        print_ = Fingerprint(
            row.name, row.dtype, tuple(row.shape), row.sha256, row.multiset_hash, row.sketch
        )
        out[row.model_id]["tensors"].append(print_.as_json())
    return list(out.values())


def add_key(
    session: Session, keyring: WatermarkKeyring, name: str, spec: Mapping[str, Any]
) -> LineageKey:
    """Register an owner's key (``spec``: method, bits and layer+seed or positions)."""
    if session.scalar(select(LineageKey).where(LineageKey.name == name)) is not None:
        raise LineageError(f"a key named {name!r} is already registered")
    try:
        key = parse_key({**spec, "name": name, "id": ""})
    except WeightKeyError as exc:
        raise LineageError(f"key {name!r}: {exc}") from None
    secret = json.dumps(key_json(key), sort_keys=True).encode()
    key_id = keyring.mac_id(b"lineage-key\x00" + secret)
    row = LineageKey(
        name=name,
        key_id=key_id,
        method=key.method,
        layers=layers_of(key),
        bits=len(key.bits),
        sealed=keyring.seal(secret, _KEY_PURPOSE),
    )
    session.add(row)
    session.flush()
    return row


def list_keys(session: Session) -> list[LineageKey]:
    """Registered keys by name (their sealed secrets are not opened)."""
    return list(session.scalars(select(LineageKey).order_by(LineageKey.name)))


def remove_key(session: Session, name: str) -> None:
    """Forget a key."""
    if session.execute(delete(LineageKey).where(LineageKey.name == name)).rowcount == 0:  # type: ignore[attr-defined]
        raise LineageError(f"no key named {name!r} is registered")


def key_options(session: Session, keyring: WatermarkKeyring) -> list[dict[str, Any]]:
    """The keys ``model.watermark`` receives (opened; secret, with ids)."""
    out = []
    for row in list_keys(session):
        spec = json.loads(keyring.unseal(row.sealed, _KEY_PURPOSE, f"lineage key {row.name!r}"))
        out.append({**spec, "name": row.name, "id": row.key_id, "secret": True})
    return out


def lineage_options(session: Session, home: Path) -> dict[str, dict[str, Any]]:
    """Options for ``model.lineage`` and ``model.watermark`` from what is registered."""
    options: dict[str, dict[str, Any]] = {}
    refs = references(session)
    if refs:
        options["model.lineage"] = {"references": refs}
    if session.scalar(select(LineageKey.id).limit(1)) is not None:
        options["model.watermark"] = {"keys": key_options(session, WatermarkKeyring(home))}
    return options
