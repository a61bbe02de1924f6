"""Per-verdict integrity checks (what the Asset page shows): pass, not yet checkpointed,
altered bytes, altered Merkle node, untrusted key."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry.db.models import VerdictRow
from registry.ledger.checkpoint import vkey
from registry.ledger.integrity import check_verdicts
from registry.ledger.signing import Signer, Verifier
from registry.ledger.writer import Ledger
from registry.testing.ledger_helpers import ORIGIN, seed, synthetic_verdicts

SIGNER = Signer.generate()


def _setup(session: Session) -> Ledger:
    ledger = Ledger(SIGNER, ORIGIN)
    seed(session, ledger, synthetic_verdicts(10))
    ledger.checkpoint(session)
    seed(session, ledger, synthetic_verdicts(2, start=10))  # after the checkpoint
    return ledger


def _rows(session: Session) -> list[VerdictRow]:
    session.expire_all()
    return list(session.scalars(select(VerdictRow).order_by(VerdictRow.log_index)))


def _check(session: Session, signer: Signer = SIGNER) -> dict[int, tuple[bool, bool, str]]:
    report = check_verdicts(
        session,
        _rows(session),
        Verifier({signer.key_id: signer.public_key}),
        [vkey(ORIGIN, signer.public_key)],
    )
    return {
        e.log_index: (
            e.signature_ok,
            e.inclusion_ok,
            e.signature_detail + " | " + e.inclusion_detail,
        )
        for e in report.entries
    }


def test_checkpointed_entries_pass_and_later_ones_are_pending(db_session: Session) -> None:
    _setup(db_session)
    results = _check(db_session)
    assert all(results[i][:2] == (True, True) for i in range(10))
    assert results[10][:2] == (True, False) and "not yet covered" in results[10][2]


def test_altered_signed_bytes_fail_both_checks(db_session: Session) -> None:
    _setup(db_session)
    db_session.execute(text("SET LOCAL session_replication_role = replica"))
    db_session.execute(
        text(
            "UPDATE verdicts SET canonical = convert_to(replace(convert_from(canonical, 'UTF8'),"
            " '\"sdxl\"', '\"none\"'), 'UTF8') WHERE log_index = 3"
        )
    )
    results = _check(db_session)
    assert results[3][:2] == (False, False)
    assert all(results[i][:2] == (True, True) for i in range(10) if i != 3)


def test_altered_merkle_node_fails_inclusion_only(db_session: Session) -> None:
    _setup(db_session)
    db_session.execute(text("SET LOCAL session_replication_role = replica"))
    db_session.execute(
        text("UPDATE merkle_nodes SET hash = sha256('x') WHERE level = 0 AND index = 9")
    )
    results = _check(db_session)
    assert results[8][:2] == (True, False)  # 9's leaf is on 8's inclusion path
    assert "inclusion proof fails" in results[8][2]


def test_untrusted_key_fails_everything(db_session: Session) -> None:
    _setup(db_session)
    results = _check(db_session, Signer.generate())
    assert all(not sig and not inc for sig, inc, _ in results.values())
