"""Proof objects a third party can check with ``registry/ledger/standalone_verify.py`` alone.

* inclusion (:func:`inclusion_bundle`): one log entry (a verdict or a signed sighting), its
  signature and public key, the Merkle path and a signed checkpoint;
* consistency (:func:`consistency_bundle`): two signed checkpoints and the RFC 9162
  consistency proof that the older tree is a prefix of the newer one.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.models import CheckpointRow, SigningKey
from registry.errors import LogIndexError, ProofError
from registry.ledger import merkle
from registry.ledger.sighting_log import entry_at
from registry.ledger.writer import Ledger, fetch_nodes, latest_checkpoint, tree_size


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def covering_checkpoint(session: Session, ledger: Ledger | None, log_index: int) -> CheckpointRow:
    """The latest checkpoint if it covers ``log_index``; else a new one signed by ``ledger``."""
    size = tree_size(session)
    if not 0 <= log_index < size:
        raise LogIndexError(f"log index {log_index} is not in the log (size {size})")
    checkpoint = latest_checkpoint(session)
    if checkpoint is not None and checkpoint.tree_size > log_index:
        return checkpoint
    if ledger is None:
        raise LogIndexError(f"no signed checkpoint covers log index {log_index} yet")
    return ledger.checkpoint(session)


def inclusion_bundle(
    session: Session, log_index: int, checkpoint: CheckpointRow, key_name: str
) -> dict[str, Any]:
    """The standalone-verifiable proof that entry ``log_index`` is in ``checkpoint``'s tree."""
    found = entry_at(session, log_index)
    if found is None:
        raise ProofError(f"no log entry at log index {log_index}")
    kind, canonical, signature, key_id = found
    size = int(checkpoint.tree_size)
    coordinates = merkle.inclusion_proof_coordinates(log_index, size)
    nodes = fetch_nodes(session, (c for element in coordinates for c in element))
    proof = merkle.inclusion_proof(log_index, size, nodes)
    keys = _public_keys(session, {key_id, checkpoint.key_id})
    return {
        "entry_type": kind,
        "entry": _b64(canonical),
        "signature": _b64(signature),
        "key_id": key_id,
        "public_key": _b64(keys[key_id]),
        "log_index": log_index,
        "tree_size": size,
        "inclusion_proof": [_b64(h) for h in proof],
        "checkpoint": checkpoint.note,
        "checkpoint_public_key": _b64(keys[checkpoint.key_id]),
        "checkpoint_key_name": key_name,
    }


def _public_keys(session: Session, key_ids: set[str]) -> dict[str, bytes]:
    return {
        key.key_id: bytes(key.public_key)
        for key in session.scalars(select(SigningKey).where(SigningKey.key_id.in_(key_ids)))
    }


def checkpoint_at(session: Session, size: int) -> CheckpointRow:
    """The latest stored checkpoint of exactly ``size`` entries; ProofError if there is none."""
    row = session.scalars(
        select(CheckpointRow)
        .where(CheckpointRow.tree_size == size)
        .order_by(CheckpointRow.id.desc())
        .limit(1)
    ).first()
    if row is None:
        sizes = session.scalars(
            select(CheckpointRow.tree_size).distinct().order_by(CheckpointRow.tree_size)
        ).all()
        shown = ", ".join(str(s) for s in sizes[-20:]) or "none"
        raise ProofError(f"no signed checkpoint of size {size} (checkpoint sizes: {shown})")
    return row


def consistency_bundle(
    session: Session, old: CheckpointRow, new: CheckpointRow, key_name: str
) -> dict[str, Any]:
    """The standalone-verifiable proof that checkpoint ``old``'s tree is a prefix of ``new``'s."""
    old_size, new_size = int(old.tree_size), int(new.tree_size)
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    coordinates = merkle.consistency_proof_coordinates(old_size, new_size)
    nodes = fetch_nodes(session, merkle.flatten_coordinates(coordinates))
    proof = merkle.consistency_proof(old_size, new_size, nodes)
    merkle.verify_consistency(
        old_size, new_size, proof, bytes(old.root_hash), bytes(new.root_hash)
    )  # never hand out a proof that does not hold
    keys = _public_keys(session, {old.key_id, new.key_id})
    return {
        "old_size": old_size,
        "new_size": new_size,
        "old_checkpoint": old.note,
        "new_checkpoint": new.note,
        "consistency_proof": [_b64(h) for h in proof],
        "old_checkpoint_public_key": _b64(keys[old.key_id]),
        "checkpoint_public_key": _b64(keys[new.key_id]),
        "checkpoint_key_name": key_name,
    }
