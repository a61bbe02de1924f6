"""The append-only verdict ledger: sign, sequence and log verdicts in one transaction.

One sequencer: :meth:`Ledger.append` locks the single ``ledger_sequencer`` row (``SELECT ...
FOR UPDATE``, held to the end of the transaction) before reading the tree size, so concurrent
writers (CLI processes, Ray workers) queue up and log indexes
stay contiguous — no gaps, no forks. The caller owns the transaction: the verdict rows, their
signatures, their Merkle nodes and the asset rows commit or roll back together. A row lock
needs UPDATE privilege on that table, which only the writer and the schema owner hold, so a
read-only role cannot stall ingestion by holding it (an advisory lock anyone could take), and
the wait is bounded by ``lock_timeout`` (``PROVREG_SEQUENCER_LOCK_TIMEOUT`` seconds).

Writes are idempotent per (asset, detector, version, model checksum): a verdict whose
identity is already logged is not written again; the existing entry is returned instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import String, any_, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from detectors.base import Verdict
from registry.db.models import CheckpointRow, MerkleNode, Sighting, SigningKey, VerdictRow
from registry.db.models_auth import LedgerSequencer
from registry.errors import ConfigurationError, ProvregError
from registry.ledger import merkle, sighting_log
from registry.ledger import pg_copy as copy_text
from registry.ledger.batch import BatchWriter
from registry.ledger.checkpoint import Checkpoint, sign_checkpoint
from registry.ledger.signing import Signer

#: Seconds a writer waits for the sequencer row before :class:`SequencerBusyError`.
DEFAULT_SEQUENCER_LOCK_TIMEOUT = 30.0
SEQUENCER_TIMEOUT_ENV = "PROVREG_SEQUENCER_LOCK_TIMEOUT"


class SequencerBusyError(ProvregError):
    """The log sequencer stayed locked by another transaction past ``lock_timeout``."""


class SequencerDeniedError(ProvregError):
    """This database role may not sequence the log (only the writer and the owner may)."""


Identity = tuple[str, str, str, str | None]


@dataclass(frozen=True)
class LedgerEntry:
    """A verdict as logged: its index, the signed bytes, the signature and key."""

    log_index: int
    verdict: Verdict
    canonical: bytes
    signature: bytes
    key_id: str
    created: bool


def identity_of(verdict: Verdict) -> Identity:
    """The idempotency key of a verdict."""
    return (verdict.asset_sha256, verdict.detector, verdict.version, verdict.model_checksum)


VERDICT_COLUMNS = (
    "log_index",
    "asset_sha256",
    "detector",
    "version",
    "model_checksum",
    "label",
    "positive",
    "score",
    "p_value",
    "error",
    "evidence",
    "created_at",
    "ingest_run_id",
    "canonical",
    "leaf_hash",
    "signature",
    "key_id",
)


def _raw_cursor(session: Session) -> psycopg.Cursor[Any]:
    """A cursor on the session's own DBAPI connection (and so its transaction)."""
    raw = session.connection().connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError("the ledger needs a psycopg (version 3) connection for COPY")
    return raw.cursor()


def _copy_sql(table: str, columns: Sequence[str]) -> str:
    column_list = ", ".join(f'"{c}"' for c in columns)
    return f'COPY "{table}" ({column_list}) FROM STDIN'


def copy_text_rows(session: Session, table: str, columns: Sequence[str], payload: str) -> None:
    """COPY ``payload``, rows already in COPY text form, in the session's transaction."""
    with _raw_cursor(session) as cursor, cursor.copy(_copy_sql(table, columns)) as copy:
        copy.write(payload)


def register_public_key(session: Session, key_id: str, public_key: bytes) -> None:
    """Record a public signing key in the ledger (idempotent; never updated)."""
    session.execute(
        pg_insert(SigningKey)
        .values(key_id=key_id, public_key=public_key)
        .on_conflict_do_nothing(index_elements=["key_id"])
    )


def sequencer_lock_timeout(environ: Mapping[str, str] | None = None) -> float:
    """The sequencer wait in seconds, from ``PROVREG_SEQUENCER_LOCK_TIMEOUT`` (default 30)."""
    raw = (os.environ if environ is None else environ).get(SEQUENCER_TIMEOUT_ENV, "")
    if not raw.strip():
        return DEFAULT_SEQUENCER_LOCK_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{SEQUENCER_TIMEOUT_ENV} must be seconds, not {raw!r}") from exc
    if not 0 < seconds <= 3600:
        raise ConfigurationError(f"{SEQUENCER_TIMEOUT_ENV} must be in (0, 3600] seconds")
    return seconds


def lock_sequencer(session: Session, timeout: float | None = None) -> None:
    """Take the log sequencer lock until the end of the current transaction.

    Waits at most ``timeout`` seconds (default :func:`sequencer_lock_timeout`), then raises
    :class:`SequencerBusyError` (the transaction is then aborted: roll it back). A role
    without UPDATE on ``ledger_sequencer`` gets :class:`SequencerDeniedError`.
    """
    seconds = sequencer_lock_timeout() if timeout is None else timeout
    previous = session.scalar(select(func.current_setting("lock_timeout")))
    session.execute(
        select(func.set_config("lock_timeout", f"{max(1, round(seconds * 1000))}ms", True))
    )
    try:
        row = session.scalar(
            select(LedgerSequencer.id).where(LedgerSequencer.id == 1).with_for_update()
        )
    except DBAPIError as exc:
        if isinstance(exc.orig, psycopg.errors.LockNotAvailable):
            raise SequencerBusyError(
                f"the ledger sequencer is held by another transaction; gave up after "
                f"{seconds:g} s ({SEQUENCER_TIMEOUT_ENV})"
            ) from exc
        if isinstance(exc.orig, psycopg.errors.InsufficientPrivilege):
            raise SequencerDeniedError(
                "this database role may not sequence the ledger (writer role only)"
            ) from exc
        raise
    if row is None:
        raise ProvregError("the ledger_sequencer row is missing (migration 0005c)")
    session.execute(select(func.set_config("lock_timeout", previous, True)))


def tree_size(session: Session) -> int:
    """Number of log entries, verdicts and signed sightings (the next log index).

    Read from the leaf level of the Merkle nodes, which every entry of either kind gets.
    """
    size = session.scalar(select(func.max(MerkleNode.index)).where(MerkleNode.level == 0))
    return 0 if size is None else int(size) + 1


def fetch_nodes(
    session: Session, coordinates: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """Stored Merkle nodes by (level, index)."""
    wanted = sorted(set(coordinates))
    if not wanted:
        return {}
    rows = session.execute(
        select(MerkleNode.level, MerkleNode.index, MerkleNode.hash).where(
            tuple_(MerkleNode.level, MerkleNode.index).in_(wanted)
        )
    )
    return {(int(level), int(index)): bytes(digest) for level, index, digest in rows}


class Ledger:
    """Appends signed verdicts to the Merkle log and signs checkpoints over it."""

    def __init__(self, signer: Signer, origin: str) -> None:
        self.signer = signer
        self.origin = origin

    def register_key(self, session: Session) -> None:
        """Record the signer's public key (idempotent)."""
        register_public_key(session, self.signer.key_id, self.signer.public_key)

    def append(
        self,
        session: Session,
        verdicts: Sequence[Verdict],
        *,
        ingest_run_id: int | None = None,
    ) -> list[LedgerEntry]:
        """Sign and log ``verdicts`` (assets must exist); one entry per verdict, in order."""
        if not verdicts:
            return []
        lock_sequencer(session)
        existing = self._existing(session, {identity_of(v) for v in verdicts})
        start = tree_size(session)
        fresh: list[Verdict] = []
        positions: dict[Identity, int] = {}
        slots: list[LedgerEntry | int] = []  # an entry already logged, or a position in fresh
        for verdict in verdicts:
            key = identity_of(verdict)
            found = existing.get(key)
            if found is not None:
                slots.append(found)
                continue
            position = positions.get(key)
            if position is None:  # else: the same verdict twice in one batch
                position = positions[key] = len(fresh)
                fresh.append(verdict)
            slots.append(position)
        if not fresh:
            return [slot for slot in slots if isinstance(slot, LedgerEntry)]
        frontier = fetch_nodes(session, merkle.frontier_coordinates(start))
        writer = BatchWriter(
            self.signer, start=start, created_at=datetime.now(UTC), ingest_run_id=ingest_run_id
        )
        with _raw_cursor(session) as cursor:
            written = writer.write(
                cursor, _copy_sql(VerdictRow.__tablename__, VERDICT_COLUMNS), fresh
            )
        nodes = merkle.new_nodes_for_append(
            start, [w.leaf for w in written], lambda coordinates: frontier
        )
        copy_text_rows(
            session,
            MerkleNode.__tablename__,
            ("level", "index", "hash"),
            "".join(
                [
                    f"{level}\t{index}\t{copy_text.bytea_field(digest)}\n"
                    for (level, index), digest in nodes.items()
                ]
            ),
        )
        key_id = self.signer.key_id
        created = [
            LedgerEntry(start + i, verdict, w.canonical, w.signature, key_id, True)
            for i, (verdict, w) in enumerate(zip(fresh, written, strict=True))
        ]
        return [slot if isinstance(slot, LedgerEntry) else created[slot] for slot in slots]

    def record_sightings(
        self, session: Session, sightings: Sequence[Mapping[str, Any]]
    ) -> list[int]:
        """Sign and log sightings (dicts with ``asset_sha256``, ``ingest_run_id``, ``source``,
        ``location``; assets must exist); return their log indexes, in order.

        Each sighting is a signed entry of the Merkle log (registry/ledger/sighting_log.py),
        sequenced
        under the same lock as verdicts, in the caller's transaction.
        """
        if not sightings:
            return []
        lock_sequencer(session)
        start = tree_size(session)
        seen_at = datetime.now(UTC)
        key_id = self.signer.key_id
        rows = []
        leaves = []
        for offset, fields in enumerate(sighting_log.sighting_rows_for(sightings)):
            record = sighting_log.sighting_record(
                **fields, seen_at=seen_at, log_index=start + offset, key_id=key_id
            )
            canonical = sighting_log.sighting_bytes(record)
            leaf = merkle.leaf_hash(canonical)
            leaves.append(leaf)
            rows.append(
                {
                    **fields,
                    "seen_at": seen_at,
                    "log_index": start + offset,
                    "canonical": canonical,
                    "leaf_hash": leaf,
                    "signature": self.signer.sign(canonical),
                    "key_id": key_id,
                }
            )
        session.execute(pg_insert(Sighting), rows)
        frontier = fetch_nodes(session, merkle.frontier_coordinates(start))
        nodes = merkle.new_nodes_for_append(start, leaves, lambda coordinates: frontier)
        copy_text_rows(
            session,
            MerkleNode.__tablename__,
            ("level", "index", "hash"),
            "".join(
                [
                    f"{level}\t{index}\t{copy_text.bytea_field(digest)}\n"
                    for (level, index), digest in nodes.items()
                ]
            ),
        )
        return [start + offset for offset in range(len(rows))]

    def _existing(self, session: Session, keys: set[Identity]) -> dict[Identity, LedgerEntry]:
        # One array parameter rather than IN (...) with one placeholder per asset: a batch's
        # query is then the same small statement whatever its size (cheaper to send and plan).
        assets = sorted({key[0] for key in keys})
        found: dict[Identity, LedgerEntry] = {}
        rows = session.scalars(
            select(VerdictRow).where(
                VerdictRow.asset_sha256 == any_(bindparam("assets", assets, type_=ARRAY(String)))
            )
        )
        for row in rows:
            key = (row.asset_sha256, row.detector, row.version, row.model_checksum)
            if key in keys:
                found[key] = LedgerEntry(
                    int(row.log_index),
                    row_to_verdict(row),
                    bytes(row.canonical),
                    bytes(row.signature),
                    row.key_id,
                    False,
                )
        return found

    def checkpoint(self, session: Session) -> CheckpointRow:
        """Sign a checkpoint over the current log (reusing the last one if the log is unchanged)."""
        lock_sequencer(session)
        size = tree_size(session)
        last = latest_checkpoint(session)
        if last is not None and last.tree_size == size and last.key_id == self.signer.key_id:
            return last
        root = merkle.root_from_nodes(size, fetch_nodes(session, merkle.root_coordinates(size)))
        note = sign_checkpoint(Checkpoint(self.origin, size, root), self.signer, self.origin)
        row = CheckpointRow(tree_size=size, root_hash=root, note=note, key_id=self.signer.key_id)
        session.add(row)
        session.flush()
        return row


def latest_checkpoint(session: Session) -> CheckpointRow | None:
    """The most recent checkpoint, if any."""
    return session.scalars(select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(1)).first()


def row_to_verdict(row: VerdictRow) -> Verdict:
    """Rebuild the detector-level verdict from a stored row."""
    evidence: Mapping[str, object] = row.evidence or {}
    return Verdict(
        detector=row.detector,
        version=row.version,
        model_checksum=row.model_checksum,
        asset_sha256=row.asset_sha256,
        label=row.label,
        positive=row.positive,
        score=row.score,
        p_value=row.p_value,
        evidence=dict(evidence),  # type: ignore[arg-type]
        error=row.error,
    )
