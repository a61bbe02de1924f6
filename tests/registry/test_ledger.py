"""The ledger writer: signing, sequencing, idempotency, concurrency, checkpoints, proofs."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from registry.db.models import CheckpointRow, MerkleNode, VerdictRow
from registry.ledger import merkle
from registry.ledger.checkpoint import verify_checkpoint, vkey
from registry.ledger.proofs import covering_checkpoint, inclusion_bundle
from registry.ledger.records import canonical_bytes
from registry.ledger.signing import Signer, Verifier
from registry.ledger.verify import verify_ledger
from registry.ledger.writer import Ledger, fetch_nodes, tree_size
from registry.testing.ledger_helpers import ORIGIN, ensure_assets, seed, synthetic_verdicts


@pytest.fixture
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture
def ledger(signer: Signer) -> Ledger:
    return Ledger(signer, ORIGIN)


def test_append_assigns_contiguous_indexes_and_signs(
    db_session: Session, ledger: Ledger, signer: Signer
) -> None:
    entries = seed(db_session, ledger, synthetic_verdicts(10))
    assert [e.log_index for e in entries] == list(range(10))
    more = seed(db_session, ledger, synthetic_verdicts(5, start=10))
    assert [e.log_index for e in more] == list(range(10, 15))
    verifier = Verifier({signer.key_id: signer.public_key})
    for entry in entries + more:
        verifier.verify(entry.key_id, entry.canonical, entry.signature)
        record = json.loads(entry.canonical)
        assert record["log_index"] == entry.log_index
        assert canonical_bytes(record) == entry.canonical
    assert tree_size(db_session) == 15


def test_append_is_idempotent_per_identity(db_session: Session, ledger: Ledger) -> None:
    verdicts = synthetic_verdicts(4)
    first = seed(db_session, ledger, verdicts)
    again = seed(db_session, ledger, verdicts + verdicts[:2])
    assert [e.log_index for e in again] == [0, 1, 2, 3, 0, 1]
    assert not any(e.created for e in again)
    assert [e.canonical for e in again[:4]] == [e.canonical for e in first]
    assert db_session.scalar(select(func.count()).select_from(VerdictRow)) == 4


def test_stored_nodes_give_the_reference_root_and_proofs(
    db_session: Session, ledger: Ledger
) -> None:
    entries = []
    for start, count in [(0, 1), (1, 6), (7, 33), (40, 1), (41, 100)]:
        entries += seed(db_session, ledger, synthetic_verdicts(count, start=start))
    reference = merkle.MemoryTree()
    for entry in entries:
        reference.append(entry.canonical)
    size = len(entries)
    stored = fetch_nodes(db_session, merkle.root_coordinates(size))
    assert merkle.root_from_nodes(size, stored) == reference.root()
    for index in (0, 1, 63, 140):
        coords = merkle.inclusion_proof_coordinates(index, size)
        nodes = fetch_nodes(db_session, (c for e in coords for c in e))
        proof = merkle.inclusion_proof(index, size, nodes)
        merkle.verify_inclusion(
            merkle.leaf_hash(entries[index].canonical), index, size, proof, reference.root()
        )


def test_checkpoint_is_signed_note_over_current_root(
    db_session: Session, ledger: Ledger, signer: Signer
) -> None:
    seed(db_session, ledger, synthetic_verdicts(9))
    row = ledger.checkpoint(db_session)
    checkpoint = verify_checkpoint(row.note, [vkey(ORIGIN, signer.public_key)])
    assert checkpoint.size == 9 and checkpoint.origin == ORIGIN
    assert checkpoint.root_hash == bytes(row.root_hash)
    assert ledger.checkpoint(db_session).id == row.id  # unchanged log: same checkpoint
    report = verify_ledger(
        db_session, Verifier({signer.key_id: signer.public_key}), [vkey(ORIGIN, signer.public_key)]
    )
    assert report.tree_size == 9 and report.checkpoints == 1


def test_inclusion_bundle_covers_entry(db_session: Session, ledger: Ledger) -> None:
    seed(db_session, ledger, synthetic_verdicts(20))
    checkpoint = covering_checkpoint(db_session, ledger, 13)
    bundle = inclusion_bundle(db_session, 13, checkpoint, ORIGIN)
    assert bundle["log_index"] == 13 and bundle["tree_size"] == 20
    assert len(bundle["inclusion_proof"]) == len(merkle.inclusion_proof_coordinates(13, 20))


def test_ledger_tables_refuse_update_and_delete(db_session: Session, ledger: Ledger) -> None:
    seed(db_session, ledger, synthetic_verdicts(2))
    for statement in (
        "UPDATE verdicts SET label = 'x' WHERE log_index = 0",
        "DELETE FROM verdicts WHERE log_index = 1",
        "UPDATE merkle_nodes SET hash = '\\x00' WHERE level = 0 AND index = 0",
        "DELETE FROM signing_keys",
        "TRUNCATE checkpoints CASCADE",
    ):
        with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
            db_session.execute(text(statement))


def test_concurrent_writers_never_gap_or_fork(fresh_database_url: str, signer: Signer) -> None:
    engine = create_engine(fresh_database_url, pool_size=6)
    sessions = sessionmaker(engine)
    ledger = Ledger(signer, ORIGIN)
    with sessions.begin() as session:
        ledger.register_key(session)
        ensure_assets(session, synthetic_verdicts(400))
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for batch in range(10):
                start = worker * 100 + batch * 10
                with sessions.begin() as session:
                    ledger.append(session, synthetic_verdicts(10, start=start))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with sessions.begin() as session:
        ledger.checkpoint(session)
    with sessions() as session:
        indexes = session.scalars(select(VerdictRow.log_index).order_by(VerdictRow.log_index))
        assert list(indexes) == list(range(400))
        assert (
            session.scalar(
                select(func.count()).select_from(MerkleNode).where(MerkleNode.level == 0)
            )
            == 400
        )
        report = verify_ledger(
            session,
            Verifier({signer.key_id: signer.public_key}),
            [vkey(ORIGIN, signer.public_key)],
        )
        assert report.tree_size == 400
        assert session.scalar(select(func.count()).select_from(CheckpointRow)) == 1
    engine.dispose()
