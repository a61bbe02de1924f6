"""Retroactive matching: search the archive for a bank's references and log what matches.

A **retro run** (one ``retro_runs`` row) searches the archive index for a set of references
of one bank and appends, through the ingest lifecycle and the one ledger writer, a signed
``copy`` verdict for every archived image within the bank's PDQ threshold:

- identity ``(asset, "copy", RETRO_VERSION, "ref:<reference id>")``. A reference id is one
  *reference generation*: adding content to a bank makes a new row (re-adding content after
  removing it makes another), so the ledger's unique verdict identity allows exactly one
  verdict per (asset, reference generation), however often or however interrupted runs are;
- label ``copy``, positive, score ``1 - distance / 256``;
- evidence: ``bank``, ``reference_id``, ``reference_sha256``, ``reference_pdq``,
  ``distance``, ``archive_quality``, ``threshold``, ``bank_generation`` (the run's number
  within its bank: 1, 2, …), ``trigger`` and ``retro: true``.

Verdicts are written in chunks of :data:`CHUNK`, one transaction each, so a run killed midway
keeps what it committed; its row stays ``running`` and the next run for that bank (any
``bank add``, ``bank enable`` or ``provreg bank retro-match``) resumes it first under the
same generation, appending only what is missing.

**Withdrawal** (``bank remove``): history is not rewritten. For every asset with a positive
match on a removed reference (a retro verdict, or an ingest-time ``copy`` verdict whose
evidence lists that reference as a match) one more verdict is appended: identity
``(asset, "copy", RETRO_VERSION, "ref:<id>:withdrawn")``, label ``withdrawn``, positive
false, evidence naming the bank, the reference, who removed it and when, the log indexes of
the matches it withdraws and the bank generation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from detectors.base import JSONValue, Verdict
from detectors.copy.detector import CopyDetector
from detectors.copy.signals import PDQ_BITS, PDQ_MIN_QUALITY, hex_to_codes
from registry.app import Registry
from registry.banks import services as banks
from registry.banks.retro.archive_index import synced_index
from registry.banks.retro.models import ArchiveHash, RetroRun
from registry.db.models import IngestRun, VerdictRow
from registry.db.models_banks import Bank, BankReference
from registry.ingest.lifecycle import IngestLifecycle

RETRO_VERSION: Final = f"{CopyDetector.version}+retro"
"""The version retro-match verdicts carry (detector ``copy``)."""
CHUNK: Final = 500
"""Verdicts per transaction."""
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RetroReport:
    """What one retro run did."""

    bank: str
    generation: int
    run_id: int
    trigger: str
    references: int
    archive_size: int
    matches: int
    verdicts_written: int
    resumed: bool


def retro_match(
    registry: Registry,
    bank: str,
    *,
    trigger: str = "manual",
    reference_ids: Sequence[int] | None = None,
    progress: Progress | None = None,
    chunk: int = CHUNK,
    after_chunk: Callable[[int], None] | None = None,
) -> list[RetroReport]:
    """Resume this bank's unfinished runs, then search the archive for ``reference_ids``
    (default: every active reference of the bank) and append verdicts for the matches.

    ``progress(done, total)`` is called after each committed chunk; ``after_chunk(n)`` too
    (tests use it to stop a run midway). Returns one report per run done.
    """
    reports = []
    with registry.sessions() as session:
        unfinished = list(
            session.scalars(
                select(RetroRun)
                .join(Bank, Bank.id == RetroRun.bank_id)
                .where(Bank.name == bank, RetroRun.status != "finished")
                .order_by(RetroRun.generation)
            )
        )
        session.expunge_all()
    for run in unfinished:
        reports.append(_run(registry, run, True, progress, chunk, after_chunk))
    if reference_ids is not None and not reference_ids:
        return reports
    run = _start(registry, bank, trigger, reference_ids)
    reports.append(_run(registry, run, False, progress, chunk, after_chunk))
    return reports


def _start(
    registry: Registry, bank: str, trigger: str, reference_ids: Sequence[int] | None
) -> RetroRun:
    with registry.sessions.begin() as session:
        row = session.scalars(select(Bank).where(Bank.name == bank).with_for_update()).first()
        if row is None:
            raise banks.BankError(f"no bank called {bank!r}")
        ids = (
            list(reference_ids)
            if reference_ids is not None
            else [r.id for r in banks.bank_references(session, bank)]
        )
        generation = (
            session.scalar(select(func.max(RetroRun.generation)).where(RetroRun.bank_id == row.id))
            or 0
        ) + 1
        run = RetroRun(
            bank_id=row.id,
            generation=generation,
            trigger=trigger,
            reference_ids=sorted(ids),
            archive_size=0,
            matches=0,
            verdicts_written=0,
        )
        session.add(run)
        session.flush()
        session.expunge(run)
    return run


def _run(
    registry: Registry,
    run: RetroRun,
    resumed: bool,
    progress: Progress | None,
    chunk: int,
    after_chunk: Callable[[int], None] | None,
) -> RetroReport:
    with registry.sessions() as session:
        bank = session.get_one(Bank, run.bank_id)
        refs = list(
            session.scalars(
                select(BankReference)
                .where(
                    BankReference.id.in_([int(i) for i in run.reference_ids]),
                    BankReference.removed_at.is_(None),
                )
                .order_by(BankReference.id)
            )
        )
        index = synced_index(registry.settings, session)
        verdicts = _verdicts(session, index, bank, refs, run) if bank.enabled and refs else []
        bank_name = bank.name
    lifecycle = IngestLifecycle.for_registry(
        registry,
        kind="retro-match",
        source=f"bank:{bank_name}",
        parameters={
            "bank": bank_name,
            "generation": run.generation,
            "trigger": run.trigger,
            "retro_run": run.id,
        },
    )
    written = 0
    with lifecycle:
        for number, start in enumerate(range(0, len(verdicts), chunk)):
            part = verdicts[start : start + chunk]
            written += lifecycle.write_with(
                partial(_write, lifecycle=lifecycle, run=run, verdicts=part)
            )
            if progress is not None:
                progress(min(start + chunk, len(verdicts)), len(verdicts))
            if after_chunk is not None:
                after_chunk(number)
        lifecycle.write_with(lambda s: _finish(s, run, len(index), len(verdicts)))
    return RetroReport(
        bank_name,
        run.generation,
        run.id,
        run.trigger,
        len(refs),
        len(index),
        len(verdicts),
        written,
        resumed,
    )


def _verdicts(
    session: Session, index: Any, bank: Bank, refs: list[BankReference], run: RetroRun
) -> list[Verdict]:
    usable = [r for r in refs if r.quality is None or r.quality >= PDQ_MIN_QUALITY]
    if not usable or len(index) == 0:
        return []
    found = index.range_search(hex_to_codes([r.pdq for r in usable]), bank.pdq_threshold)
    pairs = [
        (ref, int(archive_id), int(dist))
        for q, ref in enumerate(usable)
        for archive_id, dist in found.hits(q)
    ]
    rows = {
        int(i): (str(sha), int(quality))
        for i, sha, quality in session.execute(
            select(ArchiveHash.id, ArchiveHash.asset_sha256, ArchiveHash.quality).where(
                ArchiveHash.id.in_(sorted({a for _, a, _ in pairs}))
            )
        )
    }
    out = []
    for ref, archive_id, dist in sorted(pairs, key=lambda p: (p[0].id, rows[p[1]][0])):
        sha256, quality = rows[archive_id]
        evidence: dict[str, JSONValue] = {
            "retro": True,
            "bank": bank.name,
            "reference_id": ref.id,
            "reference_sha256": ref.sha256,
            "reference_pdq": ref.pdq,
            "distance": dist,
            "archive_quality": quality,
            "threshold": bank.pdq_threshold,
            "bank_generation": run.generation,
            "trigger": run.trigger,
            "match_kind": "hash",
        }
        out.append(
            Verdict(
                detector="copy",
                version=RETRO_VERSION,
                model_checksum=f"ref:{ref.id}",
                asset_sha256=sha256,
                label="copy",
                positive=True,
                score=round(1.0 - dist / PDQ_BITS, 6),
                evidence=evidence,
            )
        )
    return out


def _write(
    session: Session, lifecycle: IngestLifecycle, run: RetroRun, verdicts: list[Verdict]
) -> int:
    entries = lifecycle.ledger.append(session, verdicts, ingest_run_id=lifecycle.id)
    created = sum(e.created for e in entries)
    session.execute(
        update(RetroRun)
        .where(RetroRun.id == run.id)
        .values(verdicts_written=RetroRun.verdicts_written + created, ingest_run_id=lifecycle.id)
    )
    session.execute(
        update(IngestRun)
        .where(IngestRun.id == lifecycle.id)
        .values(verdicts_written=IngestRun.verdicts_written + created)
    )
    return created


def _finish(session: Session, run: RetroRun, archive_size: int, matches: int) -> None:
    session.execute(
        update(RetroRun)
        .where(RetroRun.id == run.id)
        .values(
            status="finished", finished_at=func.now(), archive_size=archive_size, matches=matches
        )
    )


def withdraw(
    registry: Registry, bank: str, removed: Sequence[BankReference], *, removed_by: str | None
) -> RetroReport | None:
    """Append a ``withdrawn`` verdict for every positive match on the removed references
    that has none yet; None (and no run) when there is nothing to withdraw."""
    with registry.sessions() as session:
        pending = [(ref, _withdrawn(session, ref)) for ref in removed]
    if not any(found for _, found in pending):
        return None
    run = _start(registry, bank, "remove", [r.id for r in removed])
    flat = [
        _withdrawal(bank, ref, sha256, indexes, run.generation, removed_by)
        for ref, found in pending
        for sha256, indexes in sorted(found.items())
    ]
    lifecycle = IngestLifecycle.for_registry(
        registry,
        kind="retro-match",
        source=f"bank:{bank}",
        parameters={
            "bank": bank,
            "generation": run.generation,
            "trigger": "remove",
            "retro_run": run.id,
        },
    )
    written = 0
    with lifecycle:
        for start in range(0, len(flat), CHUNK):
            part = flat[start : start + CHUNK]
            written += lifecycle.write_with(
                partial(_write, lifecycle=lifecycle, run=run, verdicts=part)
            )
        lifecycle.write_with(lambda s: _finish(s, run, 0, len(flat)))
    return RetroReport(
        bank, run.generation, run.id, "remove", len(removed), 0, len(flat), written, False
    )


def withdraw_removed(registry: Registry, bank: str) -> RetroReport | None:
    """Withdraw the matches of every removed reference of ``bank`` not withdrawn yet (what
    ``provreg bank retro-match`` adds when a role without ledger rights removed them)."""
    with registry.sessions() as session:
        removed = [
            r
            for r in banks.bank_references(session, bank, include_removed=True)
            if r.removed_at is not None
        ]
        session.expunge_all()
    return withdraw(registry, bank, removed, removed_by=None) if removed else None


def _withdrawn(session: Session, ref: BankReference) -> dict[str, list[int]]:
    """Assets with a positive match on ``ref`` and no withdrawal yet: their match indexes."""
    retro = (VerdictRow.version == RETRO_VERSION) & (VerdictRow.model_checksum == f"ref:{ref.id}")
    at_ingest = (VerdictRow.version != RETRO_VERSION) & VerdictRow.evidence.contains(
        {"matches": [{"ref_id": ref.id, "match": True}]}
    )
    done = select(VerdictRow.asset_sha256).where(
        VerdictRow.detector == "copy",
        VerdictRow.version == RETRO_VERSION,
        VerdictRow.model_checksum == f"ref:{ref.id}:withdrawn",
    )
    rows = session.execute(
        select(VerdictRow.asset_sha256, VerdictRow.log_index)
        .where(
            VerdictRow.detector == "copy",
            VerdictRow.positive.is_(True),
            retro | at_ingest,
            VerdictRow.asset_sha256.not_in(done),
        )
        .order_by(VerdictRow.log_index)
    ).all()
    found: dict[str, list[int]] = {}
    for sha256, log_index in rows:
        found.setdefault(str(sha256), []).append(int(log_index))
    return found


def _withdrawal(
    bank: str,
    ref: BankReference,
    sha256: str,
    indexes: list[int],
    generation: int,
    removed_by: str | None,
) -> Verdict:
    when = (ref.removed_at or datetime.now(UTC)).isoformat()
    return Verdict(
        detector="copy",
        version=RETRO_VERSION,
        model_checksum=f"ref:{ref.id}:withdrawn",
        asset_sha256=sha256,
        label="withdrawn",
        positive=False,
        evidence={
            "retro": True,
            "bank": bank,
            "reference_id": ref.id,
            "reference_sha256": ref.sha256,
            "reference_pdq": ref.pdq,
            "withdrawn_at": when,
            "withdrawn_by": removed_by or ref.removed_by,
            "withdraws_log_indexes": list(indexes),
            "bank_generation": generation,
            "trigger": "remove",
        },
    )
