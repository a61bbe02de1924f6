"""Full verification of the stored ledger: every row, every node, every checkpoint.

It recomputes everything from the signed bytes and trusts only public keys supplied from
outside the database (the key store), never the ``signing_keys`` table. It fails closed,
raising :class:`~registry.errors.LedgerIntegrityError` naming the first bad log index
(:func:`verify_ledger`), or listing every bad index up to a limit (:func:`scan_ledger`).
Caught: any altered byte of a stored verdict (signed bytes or mirrored columns), a deleted,
inserted, reordered or re-signed row, altered Merkle nodes, and a log truncated below or
diverging from a signed checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.models import CheckpointRow, MerkleNode, Sighting, VerdictRow
from registry.errors import CheckpointError, LedgerIntegrityError
from registry.ledger import merkle
from registry.ledger.canonical import float_text
from registry.ledger.checkpoint import verify_checkpoint
from registry.ledger.records import KNOWN_SCHEMAS, MIRRORED_FIELDS, format_time, signed_record
from registry.ledger.sighting_log import check_sighting_row, log_rows, signed_leaf
from registry.ledger.signing import Verifier


@dataclass(frozen=True)
class VerifyReport:
    """What a verification covered, and every error it found (none: the ledger verifies)."""

    tree_size: int
    root_hash: bytes
    checkpoints: int
    latest_checkpoint_size: int | None
    errors: tuple[LedgerIntegrityError, ...] = ()
    #: True when the scan stopped at its error limit (there may be more).
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """No error found."""
        return not self.errors


def _check_row(row: VerdictRow, expected_index: int, verifier: Verifier) -> bytes:
    index = int(row.log_index)
    if index != expected_index:
        raise _sequence_error(index, expected_index)
    return _check_content(row, verifier)


def _sequence_error(index: int, expected_index: int) -> LedgerIntegrityError:
    missing = "missing" if index > expected_index else "duplicated"
    return LedgerIntegrityError(expected_index, f"log entry {missing} (found {index} next)")


def _check_content(row: VerdictRow, verifier: Verifier) -> bytes:
    """Check one row against its own signed bytes; return its leaf hash."""
    index = int(row.log_index)
    canonical = bytes(row.canonical)
    record = signed_record(canonical, index, row.key_id, "record")
    if record.get("schema") not in KNOWN_SCHEMAS:
        raise LedgerIntegrityError(index, f"unknown record schema {record.get('schema')!r}")
    for name in MIRRORED_FIELDS:
        if not same_json(record.get(name), getattr(row, name)):
            raise LedgerIntegrityError(index, f"column {name!r} differs from the signed record")
    if record.get("created_at") != format_time(row.created_at):
        raise LedgerIntegrityError(index, "column 'created_at' differs from the signed record")
    return signed_leaf(index, canonical, row.leaf_hash, row.key_id, bytes(row.signature), verifier)


def same_json(signed: object, stored: object) -> bool:
    """Whether a stored column says exactly what the signed record says.

    Types must agree (``true`` is not ``1``), except that numbers compare as exact decimals:
    JSONB keeps a number's decimal value but not its spelling, so the signed ``1e+23`` comes
    back as the integer ``100000000000000000000000`` and the signed ``1e-7`` as
    ``0.0000001`` (read as the same float). A float read back is compared as a float (the
    stored text of the same decimal parses to the same double).
    """
    if isinstance(signed, bool) or isinstance(stored, bool):
        return type(signed) is type(stored) and signed == stored
    if isinstance(signed, int | float) and isinstance(stored, int | float):
        if type(signed) is type(stored):
            return signed == stored
        if isinstance(signed, float) and isinstance(stored, int):
            return math.isfinite(signed) and Decimal(float_text(signed)) == Decimal(stored)
        return float(signed) == stored  # a signed integer read back as a float column
    if isinstance(signed, dict) and isinstance(stored, dict):
        return signed.keys() == stored.keys() and all(
            same_json(item, stored[key]) for key, item in signed.items()
        )
    if isinstance(signed, list) and isinstance(stored, list):
        return len(signed) == len(stored) and all(
            same_json(a, b) for a, b in zip(signed, stored, strict=True)
        )
    return type(signed) is type(stored) and signed == stored


class _CompactRange:
    """The perfect subtrees covering the leaves seen so far, largest first.

    Appending a leaf completes one node per level it climbs; the root of the current size
    folds these subtrees from the right (RFC 9162, section 2.1.1). That is all a streaming
    check needs: O(log n) hashes, however long the log.
    """

    def __init__(self) -> None:
        self._subtrees: list[tuple[int, bytes]] = []
        self.size = 0

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add the next leaf; return every node it completes as (level, index, hash)."""
        completed = [(0, self.size, leaf)]
        level, digest = 0, leaf
        while self._subtrees and self._subtrees[-1][0] == level:
            _, left = self._subtrees.pop()
            level, digest = level + 1, merkle.node_hash(left, digest)
            completed.append((level, self.size >> level, digest))
        self._subtrees.append((level, digest))
        self.size += 1
        return completed

    def root(self) -> bytes:
        """The RFC 9162 root hash of the leaves appended so far."""
        if not self._subtrees:
            return merkle.EMPTY_ROOT
        digest = self._subtrees[-1][1]
        for _, left in reversed(self._subtrees[:-1]):
            digest = merkle.node_hash(left, digest)
        return digest


def _first_leaf_of(level: int, index: int) -> int:
    return index << level


class _StoredLevel:
    """The stored Merkle nodes of one level, read in index order beside the leaves."""

    def __init__(self, session: Session, level: int, batch: int) -> None:
        self.level = level
        stmt = (
            select(MerkleNode.index, MerkleNode.hash)
            .where(MerkleNode.level == level)
            .order_by(MerkleNode.index)
            .execution_options(yield_per=batch)
        )
        self._rows: Iterator[tuple[int, bytes]] = (
            (int(index), bytes(digest)) for index, digest in session.execute(stmt)
        )

    def expect(self, index: int, digest: bytes) -> None:
        """The next stored node must be ``(level, index)`` with hash ``digest``."""
        row = next(self._rows, None)
        if row is None or row[0] > index:
            raise LedgerIntegrityError(
                _first_leaf_of(self.level, index), f"Merkle node missing at level {self.level}"
            )
        if row[1] != digest:
            raise LedgerIntegrityError(
                _first_leaf_of(self.level, index),
                f"Merkle node ({self.level}, {index}) was altered",
            )

    def finish(self) -> None:
        """No node may be stored past the last one the leaves complete."""
        row = next(self._rows, None)
        if row is not None:
            raise LedgerIntegrityError(
                _first_leaf_of(self.level, row[0]), f"stray Merkle node ({self.level}, {row[0]})"
            )


def _check_stray_levels(session: Session, levels: int) -> None:
    """No node may be stored at a level the leaves never reach."""
    stray = session.execute(
        select(MerkleNode.level, MerkleNode.index)
        .where(MerkleNode.level >= levels)
        .order_by(MerkleNode.level, MerkleNode.index)
        .limit(1)
    ).first()
    if stray is not None:
        level, index = int(stray[0]), int(stray[1])
        raise LedgerIntegrityError(
            _first_leaf_of(level, index), f"stray Merkle node ({level}, {index})"
        )


@dataclass
class _Checkpoints:
    """The stored checkpoints, notes verified: {tree size: [(row id, root hash)]}."""

    by_size: dict[int, list[tuple[int, bytes]]]
    count: int
    latest_size: int | None


def _signed_checkpoints(
    session: Session, trusted: Iterable[str], findings: _Findings
) -> _Checkpoints:
    trusted_vkeys = list(trusted)
    by_size: dict[int, list[tuple[int, bytes]]] = {}
    count = 0
    latest: int | None = None
    for row in session.scalars(select(CheckpointRow).order_by(CheckpointRow.id)):
        try:
            checkpoint = verify_checkpoint(row.note, trusted_vkeys)
        except CheckpointError as exc:
            findings.add(LedgerIntegrityError(None, f"checkpoint {row.id}: {exc}"))
            continue
        if checkpoint.size != row.tree_size or checkpoint.root_hash != bytes(row.root_hash):
            findings.add(
                LedgerIntegrityError(None, f"checkpoint {row.id}: columns differ from note")
            )
            continue
        by_size.setdefault(checkpoint.size, []).append((row.id, checkpoint.root_hash))
        count += 1
        latest = checkpoint.size
    return _Checkpoints(by_size, count, latest)


def _check_checkpoints_at(
    checkpoints: Mapping[int, list[tuple[int, bytes]]], tree: _CompactRange
) -> None:
    for row_id, root_hash in checkpoints.get(tree.size, ()):
        if tree.root() != root_hash:
            # Every row so far verified, so only a rewritten history (a re-signed log) gets
            # here; the last entry the checkpoint covers is the latest one it vouches for.
            raise LedgerIntegrityError(
                tree.size - 1,
                f"log diverges from signed checkpoint {row_id} (size {tree.size})",
            )


class _Findings:
    """Errors found so far: at most one per log index, stopping the scan at ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.errors: list[LedgerIntegrityError] = []
        self.bad_indexes: set[int] = set()
        self.truncated = False

    def add(self, error: LedgerIntegrityError) -> None:
        if error.index is not None:
            if error.index in self.bad_indexes:
                return
            self.bad_indexes.add(error.index)
        if len(self.errors) >= self.limit:
            self.truncated = True
            raise _Enough
        self.errors.append(error)

    def explained(self, first: int, end: int) -> bool:
        """Whether a bad leaf in ``[first, end)`` already explains a mismatch above it."""
        return any(first <= index < end for index in self.bad_indexes)


class _Enough(Exception):
    """The scan found as many errors as it was asked to report."""


def verify_ledger(
    session: Session,
    verifier: Verifier,
    checkpoint_vkeys: Iterable[str],
    *,
    batch: int = 5000,
) -> VerifyReport:
    """Verify the whole ledger; raise LedgerIntegrityError at the first bad entry."""
    report = scan_ledger(session, verifier, checkpoint_vkeys, batch=batch, max_errors=1)
    if report.errors:
        raise report.errors[0]
    return report


def scan_ledger(
    session: Session,
    verifier: Verifier,
    checkpoint_vkeys: Iterable[str],
    *,
    batch: int = 5000,
    max_errors: int = 100,
) -> VerifyReport:
    """Verify the whole ledger and report every bad log index, up to ``max_errors``.

    One pass in log order, streaming verdicts and each level's stored nodes side by side,
    so memory stays O(log n) in the log's length (plus the checkpoints). A row that fails
    its own checks is reported and the scan goes on; a Merkle node or checkpoint mismatch
    that a bad leaf below it already explains is not reported twice. After a missing or
    duplicated index, or a missing Merkle node, the stored tree no longer lines up with the
    rows, so the Merkle checks stop there (that error is reported) while every later row is
    still checked on its own.
    """
    findings = _Findings(max(1, max_errors))
    tree = _CompactRange()
    size = 0
    checkpoints = _Checkpoints({}, 0, None)
    try:
        checkpoints = _signed_checkpoints(session, checkpoint_vkeys, findings)
        size = _scan_rows(session, verifier, checkpoints, tree, findings, batch)
        for checkpoint_size, rows in sorted(checkpoints.by_size.items()):
            if checkpoint_size > size:
                findings.add(
                    LedgerIntegrityError(
                        size,
                        f"log truncated: checkpoint {rows[0][0]} covers {checkpoint_size} entries, "
                        f"only {size} stored",
                    )
                )
    except _Enough:
        size = max(size, tree.size)
    return VerifyReport(
        size,
        tree.root(),
        checkpoints.count,
        checkpoints.latest_size,
        tuple(findings.errors),
        findings.truncated,
    )


def _scan_rows(
    session: Session,
    verifier: Verifier,
    checkpoints: _Checkpoints,
    tree: _CompactRange,
    findings: _Findings,
    batch: int,
) -> int:
    """Check every row and the Merkle nodes beside them; return the number of rows."""
    stored: list[_StoredLevel] = []
    aligned = True  # the stored tree still lines up with the rows read so far
    expected = 0
    for row in log_rows(session, batch):  # verdicts and signed sightings, in log order
        index = int(row.log_index or 0)
        if index != expected:
            findings.add(_sequence_error(index, expected))
            aligned = False
        expected = max(expected, index + 1)
        try:
            if isinstance(row, Sighting):
                leaf = check_sighting_row(row, index, verifier)
            else:
                leaf = _check_content(row, verifier)
        except LedgerIntegrityError as exc:
            findings.add(exc)
            leaf = merkle.leaf_hash(bytes(row.canonical or b""))
        session.expunge(row)
        if not aligned:
            continue
        for level, node, digest in tree.append(leaf):
            if level == len(stored):
                stored.append(_StoredLevel(session, level, batch))
            try:
                stored[level].expect(node, digest)
            except LedgerIntegrityError as exc:
                if not findings.explained(node << level, (node + 1) << level):
                    findings.add(exc)
                if exc.reason.startswith("Merkle node missing"):
                    aligned = False
                    break
        if aligned:
            try:
                _check_checkpoints_at(checkpoints.by_size, tree)
            except LedgerIntegrityError as exc:
                if not findings.explained(0, tree.size):
                    findings.add(exc)
    if aligned:
        for stream in stored:
            try:
                stream.finish()
            except LedgerIntegrityError as exc:
                findings.add(exc)
        try:
            _check_stray_levels(session, len(stored))
        except LedgerIntegrityError as exc:
            findings.add(exc)
    return expected


def verify_entry(row: VerdictRow, verifier: Verifier) -> bytes:
    """Check one stored verdict on its own (signed bytes, mirrored columns, leaf hash and
    signature); return its leaf hash or raise :class:`LedgerIntegrityError`."""
    return _check_row(row, int(row.log_index), verifier)
