"""Per-verdict integrity checks for what an investigator is looking at.

For each verdict: the stored row must match its signed bytes and carry a valid signature by a
key from the local key store (never the database's key list), and its leaf must be included
in the tree of the latest checkpoint that verifies under the trusted checkpoint keys. Results
are values (pass/fail with a reason), so a page can show every entry's outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from registry.db.models import VerdictRow
from registry.errors import CheckpointError, VerificationError
from registry.ledger import merkle
from registry.ledger.checkpoint import Checkpoint, verify_checkpoint
from registry.ledger.signing import Verifier
from registry.ledger.verify import verify_entry
from registry.ledger.writer import fetch_nodes, latest_checkpoint


@dataclass(frozen=True)
class EntryCheck:
    """The outcome of checking one verdict."""

    log_index: int
    signature_ok: bool
    signature_detail: str
    inclusion_ok: bool
    inclusion_detail: str

    @property
    def ok(self) -> bool:
        """Both the signature and the inclusion proof hold."""
        return self.signature_ok and self.inclusion_ok


@dataclass(frozen=True)
class IntegrityReport:
    """Checks for a set of verdicts against one checkpoint."""

    checkpoint: Checkpoint | None
    checkpoint_detail: str
    entries: Sequence[EntryCheck]

    @property
    def ok(self) -> bool:
        """Every entry passed."""
        return bool(self.entries) and all(e.ok for e in self.entries)


def _trusted_checkpoint(session: Session, vkeys: Sequence[str]) -> tuple[Checkpoint | None, str]:
    row = latest_checkpoint(session)
    if row is None:
        return None, "no signed checkpoint yet"
    try:
        checkpoint = verify_checkpoint(row.note, vkeys)
    except CheckpointError as exc:
        return None, f"latest checkpoint does not verify: {exc}"
    return checkpoint, f"checkpoint over {checkpoint.size} entries verified"


def _inclusion(
    session: Session, index: int, leaf: bytes, checkpoint: Checkpoint
) -> tuple[bool, str]:
    if index >= checkpoint.size:
        return False, f"not yet covered by a checkpoint (size {checkpoint.size})"
    coordinates = merkle.inclusion_proof_coordinates(index, checkpoint.size)
    nodes = fetch_nodes(session, (c for group in coordinates for c in group))
    try:
        proof = merkle.inclusion_proof(index, checkpoint.size, nodes)
        merkle.verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root_hash)
    except (VerificationError, KeyError, ValueError) as exc:
        return False, f"inclusion proof fails: {exc}"
    return True, f"included at {index} of {checkpoint.size}"


def check_verdicts(
    session: Session,
    rows: Iterable[VerdictRow],
    verifier: Verifier,
    checkpoint_vkeys: Sequence[str],
) -> IntegrityReport:
    """Verify each row's signature and its inclusion in the latest trusted checkpoint."""
    checkpoint, checkpoint_detail = _trusted_checkpoint(session, checkpoint_vkeys)
    results = []
    for row in rows:
        index = int(row.log_index)
        try:
            verify_entry(row, verifier)
            signature = (True, f"signed by {row.key_id[:16]}…; row matches signed bytes")
        except VerificationError as exc:
            signature = (False, str(exc))
        # The inclusion proof is over the leaf of the bytes as stored: if they were altered,
        # the proof fails too, independently of the signature check.
        leaf = merkle.leaf_hash(bytes(row.canonical))
        if checkpoint is None:
            inclusion = (False, checkpoint_detail)
        else:
            inclusion = _inclusion(session, index, leaf, checkpoint)
        results.append(EntryCheck(index, *signature, *inclusion))
    return IntegrityReport(checkpoint, checkpoint_detail, results)
