"""PDQ hash lists in the formats ThreatExchange tools exchange.

Import reads any of these (detected per file):

``te`` — ``threatexchange dataset --csv`` (python-threatexchange): a header row
    ``signal_type,signal_str,collab,category,tags``; rows whose ``signal_type`` is ``pdq``
    are taken, ``signal_str`` is the hash.
``hma`` — the HMA / python-threatexchange ``HMASerialization`` rows of a
    ``simple.HASH_PDQ.te`` file, no header: ``hash,indicator_id,first_descriptor_id,
    added_on,labels`` (labels space-separated).
``pdq`` — the PDQ reference hashers' output (``pdq-photo-hasher``, ``.pdq`` files):
    ``hash,quality[,filename]`` per line, or a bare hash per line.

These formats carry no PDQ quality except ``pdq``; a hash without one is recorded with
quality null (and indexed as trusted, since exchanges share hashes of quality >= 50).

Export writes ``te`` (with its header, ``collab`` = bank name) or ``hma`` (no header,
``indicator_id`` and ``first_descriptor_id`` = the reference id, ``labels`` = bank name).
Written here rather than through python-threatexchange because its serialisers are tied to
its fetch-state classes and API client; the row layouts are reproduced from its source.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, TextIO

from registry.errors import ProvregError

ExportFormat = Literal["hma", "te"]
TE_HEADER: Final = ("signal_type", "signal_str", "collab", "category", "tags")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class HashListError(ProvregError):
    """A hash list could not be parsed (names the line)."""

    hint = "fix that line (ThreatExchange or HMA CSV, 64 hex digits per PDQ hash)"


@dataclass(frozen=True)
class HashRow:
    """One PDQ hash read from a list, with what the format said about it."""

    pdq: str
    quality: int | None = None
    note: str | None = None
    """Format-specific context kept as the reference's reason (indicator id, tags, file)."""


@dataclass(frozen=True)
class ExportRow:
    """One reference to write out."""

    ref_id: int
    pdq: str
    added_at: datetime


def parse_hash_list(text: str) -> tuple[str, list[HashRow]]:
    """Detect the format of ``text`` and parse it; returns ``(format, rows)``."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        return "empty", []
    header = [c.strip().lower() for c in rows[0]]
    if "signal_str" in header:
        return "te", _parse_te(header, rows[1:])
    fmt = "hma" if len(rows[0]) >= 4 else "pdq"
    out = []
    for line, row in enumerate(rows, start=1):
        pdq = _hash(row[0], line)
        if fmt == "hma":
            labels = row[4].strip() if len(row) > 4 else ""
            note = f"hma indicator {row[1].strip()}" + (f" [{labels}]" if labels else "")
            out.append(HashRow(pdq, None, note))
        else:
            quality = _quality(row[1], line) if len(row) > 1 and row[1].strip() else None
            name = row[2].strip() if len(row) > 2 else ""
            out.append(HashRow(pdq, quality, f"pdq list: {name}" if name else None))
    return fmt, out


def _parse_te(header: list[str], rows: list[list[str]]) -> list[HashRow]:
    col = {name: header.index(name) for name in header}
    out = []
    for line, row in enumerate(rows, start=2):
        cell = dict(zip(header, (c.strip() for c in row), strict=False))
        if "signal_type" in col and cell.get("signal_type", "").lower() not in ("pdq", ""):
            continue
        note = " ".join(f"{k}={cell[k]}" for k in ("collab", "category", "tags") if cell.get(k))
        out.append(HashRow(_hash(cell.get("signal_str", ""), line), None, note or None))
    return out


def _hash(text: str, line: int) -> str:
    value = text.strip()
    if not _HEX64.match(value):
        raise HashListError(f"line {line}: not a PDQ hash (64 hex characters): {value[:70]!r}")
    return value.lower()


def _quality(text: str, line: int) -> int:
    try:
        value = int(text.strip())
    except ValueError as exc:
        raise HashListError(f"line {line}: PDQ quality is not an integer: {text!r}") from exc
    if not 0 <= value <= 100:
        raise HashListError(f"line {line}: PDQ quality {value} outside 0..100")
    return value


def write_hash_list(out: TextIO, fmt: ExportFormat, bank: str, rows: Iterable[ExportRow]) -> int:
    """Write ``rows`` in ``fmt``; returns how many were written."""
    writer = csv.writer(out, lineterminator="\n")
    count = 0
    if fmt == "te":
        writer.writerow(TE_HEADER)
    for row in rows:
        if fmt == "te":
            writer.writerow(("pdq", row.pdq, bank, "", ""))
        else:
            writer.writerow((row.pdq, row.ref_id, row.ref_id, row.added_at.isoformat(), bank))
        count += 1
    return count
