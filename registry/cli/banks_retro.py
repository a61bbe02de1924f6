"""``provreg bank matches`` / ``provreg bank retro-match`` and the retro step that
``bank add``, ``import``, ``enable`` and ``remove`` run (registry.banks.retro)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from registry.app import Registry
    from registry.banks.retro.matching import RetroReport
    from registry.db.models_banks import BankReference


def _say(report: RetroReport) -> None:
    what = "withdrew" if report.trigger == "remove" else "found"
    click.echo(
        f"retro-match: bank {report.bank} generation {report.generation}"
        f"{' (resumed)' if report.resumed else ''}: {report.references} reference(s), "
        f"archive of {report.archive_size} image(s): {what} {report.matches} match(es), "
        f"{report.verdicts_written} new signed verdict(s)",
        err=True,
    )


def _denied(exc: Exception) -> bool:
    """Whether ``exc`` says this database role may not do the retro step's writes."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    from registry.ledger.writer import SequencerDeniedError

    return isinstance(exc, SequencerDeniedError) or (
        isinstance(exc, DBAPIError) and isinstance(exc.orig, psycopg.errors.InsufficientPrivilege)
    )


def _deferred(bank: str, exc: Exception) -> None:
    click.echo(
        f"retro-match deferred: this database role may not sign verdicts "
        f"({str(exc).splitlines()[0][:120]}); the bank change is recorded; run "
        f"`provreg bank retro-match {bank}` as the writer role to search the archive",
        err=True,
    )


def run_retro(
    registry: Registry,
    bank: str,
    trigger: str,
    reference_ids: Sequence[int] | None,
    *,
    deferrable: bool = True,
) -> list[RetroReport]:
    """Search the archive for ``bank``'s new references; a line per run on stderr.

    ``deferrable``: a role that may change banks but not sign verdicts (``provreg_banks``,
    infra/postgres/roles.sql) gets a line saying who runs the search, not an error."""
    from registry.banks.retro.matching import retro_match
    from registry.cli.summary import progress_bar

    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = progress_bar(total, "verdict", f"retro-match {bank}")
        if bar is not None:
            bar.update(done - bar.n)

    try:
        reports = retro_match(
            registry, bank, trigger=trigger, reference_ids=reference_ids, progress=progress
        )
    except Exception as exc:
        if not (deferrable and _denied(exc)):
            raise
        _deferred(bank, exc)
        return []
    finally:
        if bar is not None:
            bar.close()
    for report in reports:
        _say(report)
    return reports


def run_withdraw(
    registry: Registry, bank: str, rows: Sequence[BankReference], removed_by: str | None
) -> None:
    """Append the withdrawals of removed references; a line on stderr."""
    from registry.banks.retro.matching import withdraw

    try:
        report = withdraw(registry, bank, rows, removed_by=removed_by)
        if report is not None:
            _say(report)
    except Exception as exc:
        if not _denied(exc):
            raise
        _deferred(bank, exc)


@click.command("matches")
@click.argument("bank_name", metavar="BANK")
@click.option("--active", is_flag=True, help="Leave out matches whose reference was removed.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per match.")
@click.pass_obj
def bank_matches(obj: Any, bank_name: str, active: bool, as_json: bool) -> None:
    """Archived assets that retro-matching found for BANK's references (signed verdicts)."""
    from registry.banks import services as banks
    from registry.banks.retro.queries import bank_matches as query

    registry = obj.registry(migrate=True)
    with registry.sessions() as session:
        banks.get_bank(session, bank_name)
        found = query(session, bank_name, include_withdrawn=not active)
    for match in found:
        if as_json:
            click.echo(json.dumps(match.to_json(), separators=(",", ":")))
        else:
            state = f"  WITHDRAWN (log {match.withdrawn_log_index})" if match.withdrawn else ""
            click.echo(
                f"{match.asset_sha256}  ref {match.reference_id} "
                f"{(match.reference_sha256 or 'hash-only')[:16]}  distance "
                f"{match.distance:>3}  generation {match.bank_generation}  "
                f"log {match.log_index}{state}"
            )
    if not as_json:
        click.echo(f"{len(found)} match(es) in bank {bank_name}", err=True)


@click.command("retro-match")
@click.argument("bank_name", metavar="BANK")
@click.pass_obj
def bank_retro_match(obj: Any, bank_name: str) -> None:
    """Search the archive for every active reference of BANK (resuming unfinished runs) and
    withdraw the matches of its removed references not withdrawn yet."""
    from registry.banks.retro.matching import withdraw_removed

    registry = obj.registry(migrate=True)
    run_retro(registry, bank_name, "manual", None, deferrable=False)
    report = withdraw_removed(registry, bank_name)
    if report is not None:
        _say(report)
