"""Inclusion-proof bundles: everything a third party needs to check one verdict.

The bundle's JSON shape is the one ``registry/standalone_verify.py`` reads; it needs only
the entry's bytes, its signature and public key, the Merkle path and a signed checkpoint.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import merkle
from registry.errors import LogIndexError, ProofError
from registry.ledger import Ledger, fetch_nodes, latest_checkpoint, tree_size
from registry.models import CheckpointRow, SigningKey, VerdictRow


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
    row = session.get(VerdictRow, log_index)
    if row is None:
        raise ProofError(f"no verdict at log index {log_index}")
    size = int(checkpoint.tree_size)
    coordinates = merkle.inclusion_proof_coordinates(log_index, size)
    nodes = fetch_nodes(session, (c for element in coordinates for c in element))
    proof = merkle.inclusion_proof(log_index, size, nodes)
    keys = {
        key.key_id: bytes(key.public_key)
        for key in session.scalars(
            select(SigningKey).where(SigningKey.key_id.in_({row.key_id, checkpoint.key_id}))
        )
    }
    return {
        "entry": _b64(bytes(row.canonical)),
        "signature": _b64(bytes(row.signature)),
        "key_id": row.key_id,
        "public_key": _b64(keys[row.key_id]),
        "log_index": log_index,
        "tree_size": size,
        "inclusion_proof": [_b64(h) for h in proof],
        "checkpoint": checkpoint.note,
        "checkpoint_public_key": _b64(keys[checkpoint.key_id]),
        "checkpoint_key_name": key_name,
    }
