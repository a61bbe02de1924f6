"""What long commands tell the user on stderr: a progress bar on a terminal, one summary line
at the end, and on a first run what was created and where.

Everything here writes to standard error, so ``--json`` output on standard output stays one
JSON object per line. The summary names where the run's details are: ``provreg status`` (the
run id) and, when Ray's logs went to a file (:mod:`ray_jobs.runtime`), that file.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import click

from registry.settings import Settings


class _Stderr:
    """A file-like object that writes wherever the user's terminal stderr is *now*.

    ``ray_jobs.runtime`` may move ``sys.stderr`` when Ray starts in the middle of a command
    (its own stream keeps the terminal as ``.terminal``); a bar made before must follow.
    """

    def _target(self) -> TextIO:
        stream = sys.stderr
        terminal = getattr(stream, "terminal", None)
        return terminal if terminal is not None else stream

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return self._target().isatty()

    def fileno(self) -> int:
        return self._target().fileno()


def progress_bar(total: int | None, unit: str, description: str | None = None) -> Any:
    """A tqdm bar on stderr when stderr is a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(
        total=total, unit=unit, desc=description, file=_Stderr(), leave=False, dynamic_ncols=True
    )


def this_process_log(settings: Settings) -> Path | None:
    """The log file this process wrote Ray's logs to (``$PROVREG_HOME/logs/*-<pid>.log``)."""
    import os

    folder = settings.home / "logs"
    try:
        found = sorted(folder.glob(f"*-{os.getpid()}.log"))
    except OSError:
        return None
    return found[-1] if found else None


@dataclass
class RunSummary:
    """Counts a long command gathers as it goes, then prints as one line on stderr."""

    command: str
    settings: Settings
    started: float = field(default_factory=time.monotonic)
    files: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    new_verdicts: int = 0
    run_id: int | None = None
    new_what: str = "new verdict(s)"
    """What ``new_verdicts`` counts (``bank add`` counts new references)."""
    runs_recorded: bool = True
    """Whether the command records a run ``provreg status`` lists."""

    def count(self, status: str, reason: str | None = None, new_verdicts: int = 0) -> None:
        """Count one file: ``status`` ``ok`` or anything else (an error with ``reason``)."""
        self.files += 1
        self.new_verdicts += new_verdicts
        if status == "ok":
            self.ok += 1
        else:
            self.errors[reason or status] += 1

    def line(self) -> str:
        """The summary line (no trailing newline)."""
        elapsed = time.monotonic() - self.started
        errors = sum(self.errors.values())
        by_reason = ", ".join(f"{reason} {n}" for reason, n in sorted(self.errors.items()))
        parts = [
            f"{self.command}: {self.files} file(s), {self.ok} ok, {errors} error(s)"
            + (f" ({by_reason})" if by_reason else ""),
            f"{self.new_verdicts} {self.new_what}",
            f"{elapsed:.1f} s",
        ]
        where = []
        if self.run_id is not None:
            where.append(f"run #{self.run_id} in `provreg status`")
        elif self.runs_recorded:
            where.append("`provreg status` lists the run")
        log = this_process_log(self.settings)
        if log is not None:
            where.append(f"logs {log}")
        return ", ".join(parts) + (f"; details: {'; '.join(where)}" if where else "")

    def emit(self) -> None:
        """Print the line on stderr."""
        click.echo(self.line(), err=True)


@dataclass(frozen=True)
class HomeSnapshot:
    """Whether the embedded database and a signing key existed before a command ran."""

    embedded: bool
    pgdata: bool
    keys: frozenset[str]

    @classmethod
    def take(cls, settings: Settings) -> HomeSnapshot:
        """Look at ``settings.home`` now."""
        return cls(
            settings.database_url is None,
            _has_pgdata(settings),
            frozenset(_key_ids(settings.keys_dir)),
        )

    def created(self, settings: Settings) -> list[str]:
        """One sentence per thing that exists now and did not before."""
        lines = []
        if self.embedded and not self.pgdata and _has_pgdata(settings):
            lines.append(
                f"created an embedded PostgreSQL database in {settings.embedded_pgdata} "
                "(set PROVREG_DATABASE_URL to use your own server)"
            )
        new_keys = sorted(set(_key_ids(settings.keys_dir)) - self.keys)
        for key_id in new_keys:
            lines.append(
                f"created signing key {key_id} in {settings.keys_dir / key_id}.key "
                f"(public key {settings.keys_dir / key_id}.pub; back it up)"
            )
        return lines


def _has_pgdata(settings: Settings) -> bool:
    return (settings.embedded_pgdata / "PG_VERSION").exists()


def _key_ids(folder: Path) -> Iterable[str]:
    try:
        return [path.stem for path in folder.glob("*.key")]
    except OSError:
        return []
