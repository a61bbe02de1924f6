"""Large batches through the overlapped writer: gap-free under concurrency, all or nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from detectors.base import Verdict
from registry.db.models import MerkleNode, VerdictRow
from registry.ledger.batch import CHUNK, THREADED_FROM
from registry.ledger.checkpoint import vkey
from registry.ledger.signing import Signer, Verifier
from registry.ledger.verify import verify_ledger
from registry.ledger.writer import Ledger, tree_size
from registry.testing.ledger_helpers import ORIGIN, ensure_assets, synthetic_verdicts

BIG = THREADED_FROM + 3 * CHUNK + 17  # signed on the worker thread, several chunks, ragged end


class FailingSigner(Signer):
    """Signs normally until its ``fail_at``-th signature, which raises."""

    def __init__(self, fail_at: int) -> None:
        super().__init__(Ed25519PrivateKey.generate())
        self.fail_at = fail_at
        self.count = 0

    def sign(self, data: bytes) -> bytes:
        self.count += 1
        if self.count == self.fail_at:
            raise RuntimeError("signer failed mid-batch")
        return super().sign(data)


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = create_engine(fresh_database_url, pool_size=4)
    yield engine
    engine.dispose()


def _verify(session: Session, signer: Signer) -> int:
    report = verify_ledger(
        session, Verifier({signer.key_id: signer.public_key}), [vkey(ORIGIN, signer.public_key)]
    )
    return report.tree_size


def _counts(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(VerdictRow)) or 0,
        session.scalar(select(func.count()).select_from(MerkleNode)) or 0,
    )


@pytest.mark.slow
def test_two_writers_with_large_batches_interleave_gap_free(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    signer = Signer.generate()
    ledger = Ledger(signer, ORIGIN)
    per_writer = 3
    with sessions.begin() as session:
        ledger.register_key(session)
        ensure_assets(session, synthetic_verdicts(2 * per_writer * BIG))
    errors: list[BaseException] = []
    logged: list[list[int]] = [[], []]

    def writer(worker: int) -> None:
        try:
            for batch in range(per_writer):
                start = (worker * per_writer + batch) * BIG
                with sessions.begin() as session:
                    entries = ledger.append(session, synthetic_verdicts(BIG, start=start))
                logged[worker].extend(e.log_index for e in entries)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    total = 2 * per_writer * BIG
    assert sorted(logged[0] + logged[1]) == list(range(total))
    for indexes in logged:  # each batch got one contiguous run of indexes
        for b in range(per_writer):
            run = indexes[b * BIG : (b + 1) * BIG]
            assert run == list(range(run[0], run[0] + BIG))
    with sessions.begin() as session:
        ledger.checkpoint(session)
    with sessions() as session:
        assert _verify(session, signer) == total


@pytest.mark.parametrize("fail_at", [1, CHUNK + 5, BIG - 1])
def test_signer_failure_mid_batch_leaves_no_partial_batch(engine: Engine, fail_at: int) -> None:
    sessions = sessionmaker(engine)
    signer = FailingSigner(fail_at=10**9)
    ledger = Ledger(signer, ORIGIN)
    with sessions.begin() as session:
        ledger.register_key(session)
        ensure_assets(session, synthetic_verdicts(3 * BIG))
        ledger.append(session, synthetic_verdicts(BIG))
    with sessions() as session:
        before = _counts(session)
    signer.count, signer.fail_at = 0, fail_at
    with pytest.raises(RuntimeError, match="mid-batch"), sessions.begin() as session:
        ledger.append(session, synthetic_verdicts(BIG, start=BIG))
    with sessions() as session:
        assert _counts(session) == before
        assert tree_size(session) == BIG
    signer.fail_at = 10**9
    with sessions.begin() as session:  # the next batch takes the indexes the failed one did not
        entries = ledger.append(session, synthetic_verdicts(BIG, start=2 * BIG))
        assert [e.log_index for e in entries] == list(range(BIG, 2 * BIG))
    with sessions.begin() as session:
        ledger.checkpoint(session)
    with sessions() as session:
        assert _verify(session, signer) == 2 * BIG


def test_server_refusing_a_row_mid_copy_leaves_no_partial_batch(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    ledger = Ledger(Signer.generate(), ORIGIN)
    verdicts = synthetic_verdicts(BIG)
    with sessions.begin() as session:
        ledger.register_key(session)
        ensure_assets(session, verdicts)
    orphan = Verdict("synthetic", "1.0", None, "e" * 64, "x", False)  # no such asset
    batch = [*verdicts[: BIG // 2], orphan, *verdicts[BIG // 2 :]]
    with pytest.raises(psycopg.errors.ForeignKeyViolation), sessions.begin() as session:
        ledger.append(session, batch)
    with sessions() as session:
        assert _counts(session) == (0, 0)


def test_duplicates_and_logged_verdicts_in_a_large_batch(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    ledger = Ledger(Signer.generate(), ORIGIN)
    verdicts = synthetic_verdicts(BIG)
    with sessions.begin() as session:
        ledger.register_key(session)
        ensure_assets(session, verdicts)
        first = ledger.append(session, verdicts[:10])
    batch = verdicts[5:] + verdicts[:3] + verdicts[100:110]
    with sessions.begin() as session:
        entries = ledger.append(session, batch)
    by_asset = {e.verdict.asset_sha256: e for e in entries}
    assert [e.log_index for e in entries[:5]] == [e.log_index for e in first[5:10]]
    assert not any(e.created for e in entries[:5])
    fresh = [e.log_index for e in entries[5 : BIG - 5]]
    assert fresh == list(range(10, BIG))
    for entry, verdict in zip(entries, batch, strict=True):
        assert entry.verdict.asset_sha256 == verdict.asset_sha256
        assert by_asset[verdict.asset_sha256].log_index == entry.log_index


def test_hostile_strings_are_stored_as_signed(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    signer = Signer.generate()
    ledger = Ledger(signer, ORIGIN)
    nasty = "tab\there\nnew\rcr\\back\\\\N \\. \u2028\U0001f600 caf\u00e9"
    verdicts = [
        Verdict(
            f"det\t{i}",
            "1.0\\",
            nasty if i % 2 else None,
            v.asset_sha256,
            nasty,
            True,
            0.25,
            None,
            evidence={nasty: [nasty, "\\u0041", {"x\ty": 1.5}], "n": i},
            error=None,
        )
        for i, v in enumerate(synthetic_verdicts(BIG))
    ]
    with sessions.begin() as session:
        ledger.register_key(session)
        ensure_assets(session, verdicts)
        ledger.append(session, verdicts)
    with sessions.begin() as session:
        ledger.checkpoint(session)
    with sessions() as session:
        rows = session.scalars(select(VerdictRow).order_by(VerdictRow.log_index)).all()
        assert [(r.detector, r.label, r.model_checksum, r.evidence) for r in rows] == [
            (v.detector, v.label, v.model_checksum, v.evidence) for v in verdicts
        ]
        assert _verify(session, signer) == BIG
