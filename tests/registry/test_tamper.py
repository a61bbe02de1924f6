"""Tamper evidence: every kind of alteration of a 1,000-verdict ledger is caught, at its index.

Tampering is done the way an attacker with database superuser rights would: with the
append-only triggers bypassed (``session_replication_role = replica``). Each case runs in a
transaction that is rolled back, so the cases share one seeded ledger.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from registry.db.models import VerdictRow
from registry.errors import LedgerIntegrityError
from registry.ledger import merkle
from registry.ledger.checkpoint import vkey
from registry.ledger.records import build_record, canonical_bytes
from registry.ledger.signing import Signer, Verifier
from registry.ledger.verify import verify_ledger
from registry.ledger.writer import Ledger
from registry.testing.ledger_helpers import ORIGIN, seed, synthetic_verdicts
from registry.testing.scratch_db import PostgresAdmin

SIZE = 1000
SIGNER = Signer.generate()


@pytest.fixture(scope="module")
def seeded_engine(pg_admin: PostgresAdmin, template_database: str) -> Iterator[Engine]:
    name = f"provreg_tamper_{uuid.uuid4().hex[:10]}"
    url = pg_admin.create(name, template=template_database)
    engine = create_engine(url)
    ledger = Ledger(SIGNER, ORIGIN)
    with sessionmaker(engine).begin() as session:
        for start in range(0, SIZE, 250):
            seed(session, ledger, synthetic_verdicts(250, start=start))
        ledger.checkpoint(session)
    yield engine
    engine.dispose()
    pg_admin.drop(name)


@pytest.fixture
def attacker(seeded_engine: Engine) -> Iterator[Connection]:
    connection = seeded_engine.connect()
    transaction = connection.begin()
    connection.execute(text("SET LOCAL session_replication_role = replica"))
    yield connection
    transaction.rollback()
    connection.close()


def first_bad_index(connection: Connection) -> int | None:
    session = Session(bind=connection)
    with pytest.raises(LedgerIntegrityError) as caught:
        verify_ledger(
            session,
            Verifier({SIGNER.key_id: SIGNER.public_key}),
            [vkey(ORIGIN, SIGNER.public_key)],
        )
    return caught.value.index


def test_untouched_ledger_verifies(seeded_engine: Engine) -> None:
    with Session(seeded_engine) as session:
        report = verify_ledger(
            session,
            Verifier({SIGNER.key_id: SIGNER.public_key}),
            [vkey(ORIGIN, SIGNER.public_key)],
        )
        leaves = session.scalars(select(VerdictRow.leaf_hash).order_by(VerdictRow.log_index))
        reference = merkle.MemoryTree()
        reference.append_hashes([bytes(leaf) for leaf in leaves])
    assert report.tree_size == SIZE and report.checkpoints == 1
    assert report.latest_checkpoint_size == SIZE
    assert report.root_hash == reference.root()


@pytest.mark.parametrize("index", [0, 1, 377, 998, 999])
@pytest.mark.parametrize("offset", [0, 17, 60, -2, -1])
@pytest.mark.slow
def test_any_changed_byte_of_signed_bytes(attacker: Connection, index: int, offset: int) -> None:
    attacker.execute(
        text(
            "UPDATE verdicts SET canonical = overlay(canonical placing "
            "set_byte(substring(canonical from pos for 1), 0, "
            "get_byte(substring(canonical from pos for 1), 0) # 1) from pos for 1) "
            "FROM (SELECT CASE WHEN :off >= 0 THEN :off + 1 "
            "ELSE length(canonical) + :off + 1 END AS pos FROM verdicts WHERE log_index = :i) p "
            "WHERE log_index = :i"
        ),
        {"i": index, "off": offset},
    )
    assert first_bad_index(attacker) == index


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("label", "'c2pa'"),
        ("positive", "NOT positive"),
        ("score", "score + 1"),
        ("p_value", "0.5"),
        ("evidence", "evidence || '{\"i\": -1}'::jsonb"),
        ("asset_sha256", "repeat('e', 64)"),
        ("detector", "'watermark'"),
        ("error", "'truncated'"),
        ("created_at", "created_at + interval '1 second'"),
        ("leaf_hash", "sha256(leaf_hash)"),
    ],
)
def test_changed_column(attacker: Connection, column: str, value: str) -> None:
    attacker.execute(
        text(
            "INSERT INTO assets (sha256, size_bytes, media_type) "
            "VALUES (repeat('e', 64), 1, 'image/png')"
        )
    )
    attacker.execute(text(f"UPDATE verdicts SET {column} = {value} WHERE log_index = 512"))
    assert first_bad_index(attacker) == 512


@pytest.mark.parametrize("index", [0, 500, 998])
def test_deleted_row(attacker: Connection, index: int) -> None:
    attacker.execute(text("DELETE FROM verdicts WHERE log_index = :i"), {"i": index})
    assert first_bad_index(attacker) == index


def test_deleted_last_rows_caught_by_checkpoint(attacker: Connection) -> None:
    attacker.execute(text("DELETE FROM verdicts WHERE log_index >= 997"))
    attacker.execute(text("DELETE FROM merkle_nodes WHERE (index + 1) * (1 << level) > 997"))
    assert first_bad_index(attacker) == 997


def test_inserted_forged_row(attacker: Connection) -> None:
    forger = Signer.generate()
    verdict = synthetic_verdicts(1, start=5000)[0]
    now = datetime.now(UTC)
    record = build_record(verdict, log_index=SIZE, key_id=SIGNER.key_id, created_at=now)
    canonical = canonical_bytes(record)
    attacker.execute(
        text("INSERT INTO assets (sha256, size_bytes, media_type) VALUES (:s, 1, 'image/png')"),
        {"s": verdict.asset_sha256},
    )
    attacker.execute(
        text(
            "INSERT INTO verdicts (log_index, asset_sha256, detector, version, label, positive, "
            "score, p_value, evidence, created_at, canonical, leaf_hash, signature, key_id) "
            "VALUES (:i, :a, :d, :v, :l, :pos, :sc, :p, CAST(:e AS jsonb), :t, :c, :h, :sig, :k)"
        ),
        {
            "i": SIZE,
            "a": verdict.asset_sha256,
            "d": verdict.detector,
            "v": verdict.version,
            "l": verdict.label,
            "pos": verdict.positive,
            "sc": record["score"],
            "p": record["p_value"],
            "e": canonical_bytes(record["evidence"]).decode(),
            "t": now,
            "c": canonical,
            "h": merkle.leaf_hash(canonical),
            "sig": forger.sign(canonical),
            "k": SIGNER.key_id,
        },
    )
    assert first_bad_index(attacker) == SIZE


def test_swapped_rows(attacker: Connection) -> None:
    attacker.execute(text("UPDATE verdicts SET log_index = -1 WHERE log_index = 200"))
    attacker.execute(text("UPDATE verdicts SET log_index = 200 WHERE log_index = 700"))
    attacker.execute(text("UPDATE verdicts SET log_index = 700 WHERE log_index = -1"))
    assert first_bad_index(attacker) == 200


def test_replaced_signature(attacker: Connection) -> None:
    attacker.execute(
        text(
            "UPDATE verdicts SET signature = (SELECT signature FROM verdicts WHERE log_index = 3)"
            " WHERE log_index = 640"
        )
    )
    assert first_bad_index(attacker) == 640


def test_altered_merkle_node(attacker: Connection) -> None:
    attacker.execute(
        text("UPDATE merkle_nodes SET hash = sha256(hash) WHERE level = 3 AND index = 10")
    )
    assert first_bad_index(attacker) == 80


def test_deleted_merkle_node(attacker: Connection) -> None:
    attacker.execute(text("DELETE FROM merkle_nodes WHERE level = 2 AND index = 7"))
    assert first_bad_index(attacker) == 28


@pytest.mark.parametrize(("level", "index"), [(0, SIZE), (4, SIZE // 16), (40, 0)])
def test_stray_merkle_node(attacker: Connection, level: int, index: int) -> None:
    attacker.execute(
        text("INSERT INTO merkle_nodes (level, index, hash) VALUES (:l, :i, :h)"),
        {"l": level, "i": index, "h": bytes(32)},
    )
    assert first_bad_index(attacker) == index << level


def test_resigned_history_diverges_from_checkpoint(attacker: Connection) -> None:
    """An attacker holding the signing key rewrites entry 500 and every node above it: each
    row and node is self-consistent again, and only the signed checkpoint catches it."""
    canonical = attacker.execute(
        text("SELECT canonical FROM verdicts WHERE log_index = 500")
    ).scalar_one()
    record = json.loads(bytes(canonical))
    record["label"] = "forged"
    forged = canonical_bytes(record)
    attacker.execute(
        text(
            "UPDATE verdicts SET canonical = :c, label = 'forged', leaf_hash = :h, "
            "signature = :s WHERE log_index = 500"
        ),
        {"c": forged, "h": merkle.leaf_hash(forged), "s": SIGNER.sign(forged)},
    )
    rebuilt = merkle.MemoryTree()
    rebuilt.append_hashes(
        [
            bytes(h)
            for h in attacker.execute(
                text("SELECT leaf_hash FROM verdicts ORDER BY log_index")
            ).scalars()
        ]
    )
    for level in range(SIZE.bit_length()):
        coord = (level, 500 >> level)
        if coord in rebuilt.nodes:
            attacker.execute(
                text("UPDATE merkle_nodes SET hash = :h WHERE level = :l AND index = :i"),
                {"h": rebuilt.nodes[coord], "l": coord[0], "i": coord[1]},
            )
    assert first_bad_index(attacker) == SIZE - 1
