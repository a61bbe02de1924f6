"""The registry's error tree. Library errors are translated at the boundary (``raise … from``).

Every error carries a ``hint``: what the user should do next. The command line prints
``error: <message>; <hint>`` on one line and exits 2 (1 for a :class:`VerificationError`).
Errors of detector discovery (``detectors.plugins.DetectorError``: unknown name, plugin that
fails to load) are translated the same way by ``registry/cli/errors.py``. A missing optional
dependency raises :class:`detectors.optional.MissingDependencyError` (an
``ImportError`` that names the provreg extra to install), defined there so detectors can use it.

::

    ProvregError
    ├── ConfigurationError        settings or environment that cannot work
    │   └── CommandClashError     two command plugins (or a plugin and a built-in) share a name
    ├── DatabaseUnavailableError  no database could be reached or started
    ├── NotInitialisedError       the database has no provreg schema yet
    ├── UnknownAssetError         no asset has this sha256 (or the prefix is not unique)
    ├── LogIndexError             a log index outside the log, or not yet under a checkpoint
    ├── KeyStoreError             signing keys missing, unreadable or with unsafe permissions
    ├── VerificationError         something failed to verify (fail closed)
    │   ├── SignatureError        a signature does not match its bytes or key
    │   ├── UnknownKeyError       a key id no trusted public key answers to
    │   ├── ProofError            an inclusion or consistency proof does not hold
    │   ├── CheckpointError       a checkpoint is malformed or badly signed
    │   └── LedgerIntegrityError  the stored log disagrees with itself (names the first bad index)
    │       └── LedgerTamperedError  a full scan found bad entries (lists each one)
    ├── IntakeError               media could not be read (carries a reason from the vocabulary)
    ├── BankError                 (registry.banks.services) unknown bank, bad name or hash, nothing
                                  to remove
    ├── CopyIndexError            (registry.banks.index) the copy index cannot be read or written
    └── HashListError             (registry.banks.csv_lists) a PDQ hash list does not parse
"""

from __future__ import annotations

from collections.abc import Sequence


class ProvregError(Exception):
    """Base class for every error the registry raises on purpose."""

    hint: str = ""
    """What to do next, one short sentence (printed after the message)."""


class ConfigurationError(ProvregError):
    """Settings or environment that cannot work."""

    hint = "check PROVREG_* variables and $PROVREG_HOME/config.toml"


class CommandClashError(ConfigurationError):
    """Two ``provreg.commands`` entry points, or one and a built-in command, claim one name."""

    hint = "uninstall or rename one of the two packages' commands (pip show the packages named)"


class DatabaseUnavailableError(ProvregError):
    """No database could be reached or started."""

    hint = "check PROVREG_DATABASE_URL (unset: the embedded PostgreSQL under $PROVREG_HOME/pgdata)"


class NotInitialisedError(ProvregError):
    """The database has no provreg schema yet."""

    hint = "run `provreg init` (or `provreg ingest`, which initialises it) first"


class UnknownAssetError(ProvregError):
    """No asset has this sha256 (or the prefix matches none or several)."""

    hint = "give the full sha256 as `provreg ingest` printed it, or a longer unique prefix"


class LogIndexError(ProvregError):
    """A log index outside the log, or one that no signed checkpoint covers yet."""

    hint = (
        "use an index below the log size (`provreg verify` prints it); "
        "`provreg checkpoint` covers newer entries"
    )


class KeyStoreError(ProvregError):
    """Signing keys are missing, unreadable or stored unsafely."""

    hint = "check the key files under $PROVREG_HOME/keys (mode 0600, not edited)"


class VerificationError(ProvregError):
    """Something failed to verify. Verification never returns False: it raises."""

    hint = "the ledger or the evidence was altered; do not trust it (see `provreg verify --json`)"


class SignatureError(VerificationError):
    """A signature does not match the signed bytes under the named key."""


class UnknownKeyError(VerificationError):
    """A key id that no trusted public key answers to."""


class ProofError(VerificationError):
    """An inclusion or consistency proof does not hold."""


class CheckpointError(VerificationError):
    """A checkpoint is malformed or its signature does not verify."""


class LedgerIntegrityError(VerificationError):
    """The stored ledger disagrees with itself; ``index`` is the first bad log index."""

    def __init__(self, index: int | None, message: str) -> None:
        super().__init__(f"log index {index}: {message}" if index is not None else message)
        self.index = index
        self.reason = message


class LedgerTamperedError(LedgerIntegrityError):
    """A full scan of the ledger found bad entries; ``errors`` lists each (the first first, up
    to the scan's limit) and ``truncated`` says whether the scan stopped at that limit."""

    def __init__(self, errors: Sequence[LedgerIntegrityError], *, truncated: bool) -> None:
        super().__init__(errors[0].index, errors[0].reason)
        self.errors = tuple(errors)
        self.truncated = truncated


class IntakeError(ProvregError):
    """Media could not be read; ``reason`` is one of the documented error reasons."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
