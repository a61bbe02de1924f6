"""Sightings are signed log entries: covered by verify, proofs and bundles; legacy rows kept."""

from __future__ import annotations

import base64
import json
import uuid

import psycopg
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from registry.db.engine import upgrade_schema
from registry.db.models import Sighting
from registry.errors import LedgerIntegrityError
from registry.ledger import standalone_verify as sv
from registry.ledger.checkpoint import vkey
from registry.ledger.proofs import inclusion_bundle
from registry.ledger.sighting_log import legacy_sightings
from registry.ledger.signing import Signer, Verifier
from registry.ledger.verify import verify_ledger
from registry.ledger.writer import Ledger, tree_size
from registry.testing.ledger_helpers import ORIGIN, seed, synthetic_verdicts
from registry.testing.scratch_db import PostgresAdmin

SIGNER = Signer.generate()
VERIFIER = Verifier({SIGNER.key_id: SIGNER.public_key})
VKEYS = [vkey(ORIGIN, SIGNER.public_key)]


def _mixed_log(session: Session) -> Ledger:
    ledger = Ledger(SIGNER, ORIGIN)
    verdicts = synthetic_verdicts(6)
    seed(session, ledger, verdicts[:3])
    ledger.record_sightings(
        session,
        [
            {
                "asset_sha256": verdicts[0].asset_sha256,
                "ingest_run_id": None,
                "source": "feed",
                "location": "/uploads/caf\udce9.png",
            },  # a non-UTF-8 file name
            {"asset_sha256": verdicts[1].asset_sha256, "source": "x\x00y", "location": None},
        ],
    )
    seed(session, ledger, verdicts[3:])
    return ledger


def test_sightings_interleave_with_verdicts_and_verify(db_session: Session) -> None:
    _mixed_log(db_session)
    rows = db_session.scalars(select(Sighting).order_by(Sighting.log_index)).all()
    assert [r.log_index for r in rows] == [3, 4] and tree_size(db_session) == 8
    record = json.loads(bytes(rows[0].canonical or b""))
    assert record["schema"] == "provreg.sighting/v1"
    assert record["location"] == "/uploads/caf\\xe9.png"
    assert rows[1].source == "x\ufffdy"
    report = verify_ledger(db_session, VERIFIER, VKEYS)
    assert report.tree_size == 8


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("location", "'/somewhere/else.png'"),
        ("source", "'other-feed'"),
        ("seen_at", "seen_at - interval '1 day'"),
        ("asset_sha256", "(SELECT asset_sha256 FROM verdicts WHERE log_index = 5)"),
    ],
)
def test_a_rewritten_sighting_is_caught_at_its_index(
    db_session: Session, column: str, value: str
) -> None:
    _mixed_log(db_session)
    db_session.execute(text("SET LOCAL session_replication_role = replica"))
    db_session.execute(text(f"UPDATE sightings SET {column} = {value} WHERE log_index = 3"))
    with pytest.raises(LedgerIntegrityError) as caught:
        verify_ledger(db_session, VERIFIER, VKEYS)
    assert caught.value.index == 3


def test_a_deleted_sighting_is_caught(db_session: Session) -> None:
    _mixed_log(db_session)
    db_session.execute(text("SET LOCAL session_replication_role = replica"))
    db_session.execute(text("DELETE FROM sightings WHERE log_index = 4"))
    with pytest.raises(LedgerIntegrityError) as caught:
        verify_ledger(db_session, VERIFIER, VKEYS)
    assert caught.value.index == 4


def test_sightings_are_append_only(db_session: Session) -> None:
    _mixed_log(db_session)
    with pytest.raises(Exception, match="append-only"), db_session.begin_nested():
        db_session.execute(text("UPDATE sightings SET source = 'x'"))


def test_a_sighting_has_a_standalone_verifiable_inclusion_proof(db_session: Session) -> None:
    ledger = _mixed_log(db_session)
    checkpoint = ledger.checkpoint(db_session)
    proof = inclusion_bundle(db_session, 3, checkpoint, ORIGIN)
    assert proof["entry_type"] == "sighting"
    assert sv.check_entry(proof) == []
    record = json.loads(base64.b64decode(proof["entry"]))
    record["location"] = "/elsewhere.png"
    proof["entry"] = base64.b64encode(json.dumps(record).encode()).decode()
    assert sv.check_entry(proof)


def test_existing_sightings_migrate_forward_unchanged(
    pg_admin: PostgresAdmin,
) -> None:
    name = f"provreg_mig_{uuid.uuid4().hex[:10]}"
    url = pg_admin.create(name)
    try:
        upgrade_schema(url, "0004")
        raw = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(raw) as connection:
            connection.execute(
                "INSERT INTO assets (sha256, size_bytes, media_type) "
                "VALUES (repeat('a', 64), 1, 'image/png')"
            )
            connection.execute(
                "INSERT INTO sightings (asset_sha256, source, location) "
                "VALUES (repeat('a', 64), 'old-feed', '/old/path.png')"
            )
            before = connection.execute(
                "SELECT id, asset_sha256, source, location, seen_at FROM sightings"
            ).fetchall()
        upgrade_schema(url)
        with psycopg.connect(raw) as connection:
            after = connection.execute(
                "SELECT id, asset_sha256, source, location, seen_at, "
                "log_index, signature FROM sightings"
            ).fetchall()
        assert [row[:5] for row in after] == before
        assert after[0][5:] == (None, None)
        engine = create_engine(url)
        with Session(engine) as session:
            assert legacy_sightings(session) == 1
            assert verify_ledger(session, VERIFIER, VKEYS).tree_size == 0
        engine.dispose()
    finally:
        pg_admin.drop(name)
