"""``provreg bank …`` and ``provreg search``: reference banks and copy-detection search.

Added to the main group at the end of :mod:`registry.cli.root`. The copy-detection modules
(FAISS, OpenCV) are imported inside the commands so other commands do not pay for them.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import click

from registry.banks import services as banks
from registry.banks.csv_lists import ExportFormat, ExportRow, parse_hash_list, write_hash_list
from registry.cli.banks_retro import bank_matches, bank_retro_match, run_retro, run_withdraw
from registry.cli.summary import RunSummary, progress_bar
from registry.errors import IntakeError
from registry.intake.pipeline import iter_media_paths

if TYPE_CHECKING:
    from registry.banks.index import IndexChange

EXIT_ERROR = 2


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, separators=(",", ":"), default=str))


def _user(value: str | None) -> str | None:
    if value:
        return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _change_text(change: IndexChange) -> str:
    parts = [
        f"generation {change.generation}",
        f"revision {change.revision}",
        f"{change.size} reference(s) indexed",
    ]
    if change.added or change.hash_only:
        parts.append(
            f"+{len(change.added) + len(change.hash_only)}"
            + (f" ({len(change.hash_only)} hash-only)" if change.hash_only else "")
        )
    if change.removed:
        parts.append(f"-{len(change.removed)}")
    return "index: " + ", ".join(parts)


@click.group()
def bank() -> None:
    """Reference banks for copy detection (stored in PostgreSQL, indexed under PROVREG_HOME)."""


@bank.command("add")
@click.argument("bank_name", metavar="BANK")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--reason", default=None, help="Why these references are added (recorded).")
@click.option("--added-by", default=None, help="Who adds them (default: the OS user).")
@click.option(
    "--threshold",
    type=click.IntRange(0, 128),
    default=None,
    help="Set the bank's PDQ match threshold (default for a new bank: 31).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.pass_obj
def bank_add(
    obj: Any,
    bank_name: str,
    paths: tuple[Path, ...],
    reason: str | None,
    added_by: str | None,
    threshold: int | None,
    as_json: bool,
) -> None:
    """Register image files (or folders of them) as references in BANK."""
    from registry.banks import ops as bank_ops

    registry = obj.registry(migrate=True)
    files = list(iter_media_paths(paths))
    summary = RunSummary(
        f"bank add {bank_name}", obj.settings, new_what="new reference(s)", runs_recorded=False
    )
    bar = progress_bar(len(files), "file", f"bank {bank_name}")
    added: list[int] = []
    try:
        for outcome in bank_ops.add_files(
            registry,
            bank_name,
            files,
            added_by=_user(added_by),
            reason=reason,
            pdq_threshold=threshold,
        ):
            summary.count(
                "error" if outcome.status == "error" else "ok",
                outcome.error,
                int(outcome.status == "added"),
            )
            if outcome.status == "added" and outcome.ref_id is not None:
                added.append(outcome.ref_id)
            if bar is not None:
                bar.update(1)
                bar.clear()
            if as_json:
                _emit(outcome.__dict__)
            elif outcome.status == "error":
                click.echo(f"error   {outcome.path}  {outcome.error}: {outcome.error_detail}")
            else:
                click.echo(
                    f"{outcome.status:<7} {outcome.sha256[:16]}  {outcome.path}  "
                    f"ref {outcome.ref_id}  PDQ quality {outcome.quality}"
                )
    finally:
        if bar is not None:
            bar.close()
    summary.emit()
    run_retro(registry, bank_name, "add", added)


@bank.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def bank_list(obj: Any, as_json: bool) -> None:
    """List banks with their state, threshold and reference counts."""
    registry = obj.registry(migrate=True)
    with registry.sessions() as session:
        summaries = banks.list_banks(session)
    for s in summaries:
        if as_json:
            _emit(
                {
                    "bank": s.name,
                    "enabled": s.enabled,
                    "pdq_threshold": s.pdq_threshold,
                    "references": s.active,
                    "removed": s.removed,
                    "created_by": s.created_by,
                    "created_at": s.created_at.isoformat(),
                    "description": s.description,
                }
            )
        else:
            click.echo(
                f"{s.name:<24} {'enabled ' if s.enabled else 'disabled'}  "
                f"threshold {s.pdq_threshold:>3}  {s.active} reference(s)"
                + (f", {s.removed} removed" if s.removed else "")
            )


@bank.command("disable")
@click.argument("bank_name", metavar="BANK")
@click.pass_obj
def bank_disable(obj: Any, bank_name: str) -> None:
    """Stop matching BANK's references (they stay recorded)."""
    from registry.banks import ops as bank_ops

    change = bank_ops.set_enabled(obj.registry(migrate=True), bank_name, False)
    click.echo(f"bank {bank_name} disabled; {_change_text(change)}")


@bank.command("enable")
@click.argument("bank_name", metavar="BANK")
@click.pass_obj
def bank_enable(obj: Any, bank_name: str) -> None:
    """Match BANK's references again."""
    from registry.banks import ops as bank_ops

    registry = obj.registry(migrate=True)
    change = bank_ops.set_enabled(registry, bank_name, True)
    click.echo(f"bank {bank_name} enabled; {_change_text(change)}")
    run_retro(registry, bank_name, "enable", None)


@bank.command("threshold")
@click.argument("bank_name", metavar="BANK")
@click.argument("pdq_threshold", type=click.IntRange(0, 128))
@click.pass_obj
def bank_threshold(obj: Any, bank_name: str, pdq_threshold: int) -> None:
    """Set BANK's PDQ threshold (Hamming distance, default 31) for hash matches.

    It bounds matches decided by the hash alone (``match_kind: hash``). A candidate beyond
    it can still match when SIFT + RANSAC geometric verification confirms it
    (``match_kind: verified``): verification catches crops, borders and overlays that move
    the hash far. See docs/detectors/copy.md.
    """
    from registry.banks import ops as bank_ops

    change = bank_ops.set_threshold(obj.registry(migrate=True), bank_name, pdq_threshold)
    click.echo(f"bank {bank_name} threshold {pdq_threshold}; {_change_text(change)}")
    click.echo(
        f"hash matches (match_kind=hash): PDQ distance up to {pdq_threshold} (minus "
        "the verification band, 4 by default, for uploaded references); beyond it a "
        "candidate is a match only if geometric verification confirms it "
        "(match_kind=verified)"
    )


@bank.command("remove")
@click.argument("bank_name", metavar="BANK")
@click.argument("key", metavar="SHA256")
@click.option("--removed-by", default=None, help="Who removes it (default: the OS user).")
@click.pass_obj
def bank_remove(obj: Any, bank_name: str, key: str, removed_by: str | None) -> None:
    """Remove a reference (by file SHA-256, or PDQ hash for hash-only ones): a tombstone."""
    from registry.banks import ops as bank_ops

    registry = obj.registry(migrate=True)
    rows = bank_ops.remove(registry, bank_name, key, removed_by=_user(removed_by))
    click.echo(
        f"removed {len(rows)} reference(s) from {bank_name}: " + ", ".join(str(r.id) for r in rows)
    )
    run_withdraw(registry, bank_name, rows, _user(removed_by))


@bank.command("import")
@click.argument("bank_name", metavar="BANK")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reason", default=None)
@click.option("--added-by", default=None)
@click.option("--threshold", type=click.IntRange(0, 128), default=None)
@click.pass_obj
def bank_import(
    obj: Any,
    bank_name: str,
    file: Path,
    reason: str | None,
    added_by: str | None,
    threshold: int | None,
) -> None:
    """Import a PDQ hash list (ThreatExchange CSV, HMA rows or hash,quality lines)."""
    from registry.banks import ops as bank_ops

    fmt, rows = parse_hash_list(file.read_text(encoding="utf-8-sig"))
    registry = obj.registry(migrate=True)
    added, existing = bank_ops.import_hashes(
        registry,
        bank_name,
        rows,
        added_by=_user(added_by),
        reason=reason or f"imported from {file.name}",
        pdq_threshold=threshold,
    )
    click.echo(f"{fmt}: {added} hash(es) added to {bank_name}, {existing} already there")
    if added:
        run_retro(registry, bank_name, "import", None)


@bank.command("export")
@click.argument("bank_name", metavar="BANK")
@click.option(
    "--format", "fmt", type=click.Choice(get_args(ExportFormat)), default="te", show_default=True
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of standard output.",
)
@click.pass_obj
def bank_export(obj: Any, bank_name: str, fmt: ExportFormat, output: Path | None) -> None:
    """Export BANK's active PDQ hashes for sharing."""
    registry = obj.registry()
    with registry.sessions() as session:
        rows = [
            ExportRow(r.id, r.pdq, r.added_at) for r in banks.bank_references(session, bank_name)
        ]
    if output is None:
        write_hash_list(sys.stdout, fmt, bank_name, rows)
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        count = write_hash_list(handle, fmt, bank_name, rows)
    click.echo(f"{count} hash(es) written to {output}")


@bank.command("rebuild-index")
@click.pass_obj
def bank_rebuild_index(obj: Any) -> None:
    """Rebuild the copy index from PostgreSQL (re-reading reference files still present)."""
    from registry.banks import ops as bank_ops

    change = bank_ops.rebuild_index(obj.registry(migrate=True))
    click.echo(_change_text(change))


bank.add_command(bank_matches)
bank.add_command(bank_retro_match)


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--k",
    "k",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Candidates per query image.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per candidate.")
@click.pass_obj
def search(obj: Any, images: tuple[Path, ...], k: int, as_json: bool) -> None:
    """Copy-detection candidates for each IMAGE, ranked (matches first, then distance)."""
    from registry.banks.index import load_references
    from registry.banks.search import search_path

    references = load_references(obj.settings)
    failed = 0
    for path in _query_paths(images, as_json):
        if path is None:
            failed += 1
            continue
        try:
            candidates = search_path(obj.settings, path, k, references=references)
        except IntakeError as exc:
            failed += 1
            if as_json:
                _emit({"query": str(path), "error": exc.reason, "error_detail": exc.detail})
            else:
                click.echo(f"{path}: cannot be searched: {exc}", err=True)
            continue
        if not as_json:
            click.echo(f"{path}: {len(candidates)} candidate(s)")
        for c in candidates:
            if as_json:
                _emit(c.to_json())
            else:
                verified = "" if c.verified is None else f"  {c.verified} inliers"
                kind = f" ({c.match_kind} match)" if c.match_kind else ""
                click.echo(
                    f"  {c.rank:>3}. {'MATCH' if c.match else '     '} {c.bank}  "
                    f"{c.reference_sha256 or f'ref {c.ref_id} (hash only)'}  "
                    f"{c.signal} distance {c.distance}{verified}{kind}"
                )
    if failed:
        sys.exit(EXIT_ERROR)


def _query_paths(images: tuple[Path, ...], as_json: bool) -> Iterator[Path | None]:
    """The files to search; None (after saying so) for a name that does not exist."""
    for image in images:
        if not image.exists():
            if as_json:
                _emit(
                    {
                        "query": str(image),
                        "error": "file-not-found",
                        "error_detail": f"no such file or folder: {image}",
                    }
                )
            else:
                click.echo(f"error: file not found: {image}", err=True)
            yield None
            continue
        yield from iter_media_paths([image])
