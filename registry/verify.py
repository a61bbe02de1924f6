"""Full verification of the stored ledger: every row, every node, every checkpoint.

It recomputes everything from the signed bytes and trusts only public keys supplied from
outside the database (the key store), never the ``signing_keys`` table. It fails closed,
raising :class:`~registry.errors.LedgerIntegrityError` naming the first bad log index.
Caught: any altered byte of a stored verdict (signed bytes or mirrored columns), a deleted,
inserted, reordered or re-signed row, altered Merkle nodes, and a log truncated below or
diverging from a signed checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import merkle
from registry.checkpoint import verify_checkpoint
from registry.errors import CheckpointError, LedgerIntegrityError, VerificationError
from registry.models import CheckpointRow, MerkleNode, VerdictRow
from registry.records import MIRRORED_FIELDS, canonical_bytes, format_time
from registry.signing import Verifier


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification covered."""

    tree_size: int
    root_hash: bytes
    checkpoints: int
    latest_checkpoint_size: int | None


def _check_row(row: VerdictRow, expected_index: int, verifier: Verifier) -> bytes:
    index = int(row.log_index)
    if index != expected_index:
        missing = "missing" if index > expected_index else "duplicated"
        raise LedgerIntegrityError(expected_index, f"log entry {missing} (found {index} next)")
    canonical = bytes(row.canonical)
    try:
        record = json.loads(canonical)
        recanonical = canonical_bytes(record)
    except (ValueError, TypeError) as exc:
        raise LedgerIntegrityError(index, f"signed bytes are not valid JSON: {exc}") from exc
    if recanonical != canonical:
        raise LedgerIntegrityError(index, "signed bytes are not in RFC 8785 canonical form")
    if record.get("log_index") != index:
        raise LedgerIntegrityError(
            index, f"entry was signed for log index {record.get('log_index')}"
        )
    if record.get("key_id") != row.key_id:
        raise LedgerIntegrityError(index, "key id column differs from the signed record")
    for name in MIRRORED_FIELDS:
        if record.get(name) != getattr(row, name):
            raise LedgerIntegrityError(index, f"column {name!r} differs from the signed record")
    if record.get("created_at") != format_time(row.created_at):
        raise LedgerIntegrityError(index, "column 'created_at' differs from the signed record")
    leaf = merkle.leaf_hash(canonical)
    if bytes(row.leaf_hash) != leaf:
        raise LedgerIntegrityError(index, "stored leaf hash does not match the signed bytes")
    try:
        verifier.verify(row.key_id, canonical, bytes(row.signature))
    except VerificationError as exc:
        raise LedgerIntegrityError(index, f"signature: {exc}") from exc
    return leaf


def _levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(
            [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        )
    return levels


def _first_leaf_of(level: int, index: int) -> int:
    return index << level


def _check_nodes(session: Session, levels: list[list[bytes]], batch: int) -> None:
    stmt = (
        select(MerkleNode.level, MerkleNode.index, MerkleNode.hash)
        .order_by(MerkleNode.level, MerkleNode.index)
        .execution_options(yield_per=batch)
    )
    seen = [0] * len(levels)
    for level, index, digest in session.execute(stmt):
        level, index = int(level), int(index)
        expected = levels[level][index] if level < len(levels) and index < len(
            levels[level]
        ) else None
        if expected is None:
            raise LedgerIntegrityError(
                _first_leaf_of(level, index), f"stray Merkle node ({level}, {index})"
            )
        if bytes(digest) != expected:
            raise LedgerIntegrityError(
                _first_leaf_of(level, index), f"Merkle node ({level}, {index}) was altered"
            )
        seen[level] += 1
    for level, count in enumerate(seen):
        if count != len(levels[level]):
            raise LedgerIntegrityError(
                _first_leaf_of(level, count), f"Merkle node missing at level {level}"
            )


def _root(levels: list[list[bytes]], size: int) -> bytes:
    nodes = {}
    for level, index in merkle.root_coordinates(size):
        nodes[(level, index)] = levels[level][index]
    return merkle.root_from_nodes(size, nodes)


def _check_checkpoints(
    session: Session, levels: list[list[bytes]], size: int, trusted: Iterable[str]
) -> tuple[int, int | None]:
    trusted_vkeys = list(trusted)
    count = 0
    latest: int | None = None
    for row in session.scalars(select(CheckpointRow).order_by(CheckpointRow.id)):
        try:
            checkpoint = verify_checkpoint(row.note, trusted_vkeys)
        except CheckpointError as exc:
            raise LedgerIntegrityError(None, f"checkpoint {row.id}: {exc}") from exc
        if checkpoint.size != row.tree_size or checkpoint.root_hash != bytes(row.root_hash):
            raise LedgerIntegrityError(None, f"checkpoint {row.id}: columns differ from note")
        if checkpoint.size > size:
            raise LedgerIntegrityError(
                size,
                f"log truncated: checkpoint {row.id} covers {checkpoint.size} entries, "
                f"only {size} stored",
            )
        if checkpoint.size and _root(levels, checkpoint.size) != checkpoint.root_hash:
            # Every row verified, so only a rewritten history (a re-signed log) gets here; the
            # last entry the checkpoint covers is the latest one it vouches for.
            raise LedgerIntegrityError(
                checkpoint.size - 1,
                f"log diverges from signed checkpoint {row.id} (size {checkpoint.size})",
            )
        count += 1
        latest = checkpoint.size
    return count, latest


def verify_ledger(
    session: Session,
    verifier: Verifier,
    checkpoint_vkeys: Iterable[str],
    *,
    batch: int = 5000,
) -> VerifyReport:
    """Verify the whole ledger; raise LedgerIntegrityError at the first bad entry."""
    leaves: list[bytes] = []
    stmt = select(VerdictRow).order_by(VerdictRow.log_index).execution_options(yield_per=batch)
    for row in session.scalars(stmt):
        leaves.append(_check_row(row, len(leaves), verifier))
        session.expunge(row)
    levels = _levels(leaves) if leaves else [[]]
    _check_nodes(session, levels, batch)
    size = len(leaves)
    count, latest = _check_checkpoints(session, levels, size, checkpoint_vkeys)
    root = _root(levels, size) if size else merkle.EMPTY_ROOT
    return VerifyReport(size, root, count, latest)


def verify_entry(row: VerdictRow, verifier: Verifier) -> bytes:
    """Check one stored verdict on its own (signed bytes, mirrored columns, leaf hash and
    signature); return its leaf hash or raise :class:`LedgerIntegrityError`."""
    return _check_row(row, int(row.log_index), verifier)
