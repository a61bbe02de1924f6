"""Exit codes of the ``provreg`` command line, and errors turned into one line each.

Exit codes (the README's contract): 0 success; 1 verification failed (tamper found, a proof
that does not hold); 2 usage, configuration or operational error; 3 ``ingest --strict`` when
some file could not be judged; 130 interrupted. Every typed error is printed as one line on
stderr, ``error: <what happened>; <what to do next>``, never as a traceback; only an error
nobody anticipated (a bug) keeps its traceback, followed by that line.
"""

from __future__ import annotations

import sys
import traceback
from typing import NoReturn

import click

from registry.errors import ProvregError, VerificationError

EXIT_OK = 0
EXIT_VERIFY_FAILED = 1
EXIT_ERROR = 2
EXIT_UNJUDGED = 3
EXIT_INTERRUPTED = 130

REINSTALL = "reinstall provreg (pip install -c constraints.txt provreg)"


def one_line(message: str, hint: str = "") -> str:
    """``message; hint`` on a single line (a hostile path or library message may hold newlines)."""
    text = " ".join(str(message).split())
    return f"{text}; {hint}" if hint else text


def _detector_hint(exc: Exception) -> str | None:
    """The hint for :mod:`detectors.plugins` errors (that package cannot import the registry)."""
    from detectors.plugins import DetectorError, UnknownDetectorError

    if isinstance(exc, UnknownDetectorError):
        return (
            "pick registered names (--detector, PROVREG_DETECTORS, or `detectors` in config.toml)"
        )
    if isinstance(exc, DetectorError):
        cause = exc.__cause__
        hint = getattr(cause, "hint", None)
        return hint if isinstance(hint, str) else f"{REINSTALL}, or the plugin naming it"
    return None


def _database_error(exc: Exception) -> str | None:
    """A one-line description of a database failure outside the typed tree, else None."""
    try:
        from sqlalchemy.exc import OperationalError, ProgrammingError
    except ImportError:  # pragma: no cover - sqlalchemy is a base dependency
        return None
    if isinstance(exc, ProgrammingError) and "UndefinedTable" in type(exc.orig).__name__:
        return one_line(
            "the database has no provreg schema (or an old one)", "run `provreg init` first"
        )
    if isinstance(exc, OperationalError):
        return one_line(
            f"database error: {exc.orig}",
            "check that PostgreSQL is up and PROVREG_DATABASE_URL is right",
        )
    return None


def _ray_error(exc: Exception) -> str | None:
    """A one-line description of a Ray failure (checked by module: Ray is not imported here)."""
    if type(exc).__module__.split(".")[0] == "ray" or (
        isinstance(exc, ConnectionError) and "ray" in str(exc).lower()
    ):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return one_line(
            f"Ray failed: {type(exc).__name__}: {first}",
            "check RAY_ADDRESS (unset: a local Ray is started) and `ray status`",
        )
    return None


def fail(exc: BaseException) -> NoReturn:
    """Print ``exc`` as the command line's one error line and exit with its code."""
    from detectors.optional import MissingDependencyError

    if isinstance(exc, click.exceptions.Exit):
        sys.exit(exc.exit_code)
    if isinstance(exc, click.exceptions.Abort | KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if isinstance(exc, click.ClickException):
        exc.show()
        # click reports usage errors with 2; a ClickException raised by a command means 1 in
        # click but is an operational error here (1 is reserved for a failed verification).
        sys.exit(EXIT_ERROR if exc.exit_code == 1 else exc.exit_code)
    if isinstance(exc, VerificationError):
        click.echo(f"verification failed: {one_line(str(exc), exc.hint)}", err=True)
        sys.exit(EXIT_VERIFY_FAILED)
    if isinstance(exc, ProvregError):
        click.echo(f"error: {one_line(str(exc), exc.hint)}", err=True)
        sys.exit(EXIT_ERROR)
    if isinstance(exc, MissingDependencyError):
        click.echo(f"error: {one_line(str(exc), exc.hint)}", err=True)
        sys.exit(EXIT_ERROR)
    if isinstance(exc, ModuleNotFoundError):
        missing = f"the Python module {exc.name!r} is missing"
        click.echo(f"error: {one_line(missing, REINSTALL)}", err=True)
        sys.exit(EXIT_ERROR)
    if isinstance(exc, Exception):
        hint = _detector_hint(exc)
        if hint is not None:
            click.echo(f"error: {one_line(str(exc), hint)}", err=True)
            sys.exit(EXIT_ERROR)
        described = _database_error(exc) or _ray_error(exc)
        if described is not None:
            click.echo(f"error: {described}", err=True)
            sys.exit(EXIT_ERROR)
    if isinstance(exc, SystemExit):
        raise exc
    traceback.print_exception(exc)
    bug = "this is a bug in provreg: please report it with the traceback above"
    click.echo(f"error: {one_line(f'{type(exc).__name__}: {exc}', bug)}", err=True)
    sys.exit(EXIT_ERROR)
