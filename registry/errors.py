"""The registry's error tree. Library errors are translated at the boundary (``raise … from``).

::

    ProvregError
    ├── ConfigurationError        settings or environment that cannot work
    ├── DatabaseUnavailableError  no database could be reached or started
    ├── KeyStoreError             signing keys missing, unreadable or with unsafe permissions
    ├── VerificationError         something failed to verify (fail closed)
    │   ├── SignatureError        a signature does not match its bytes or key
    │   ├── UnknownKeyError       a key id no trusted public key answers to
    │   ├── ProofError            an inclusion or consistency proof does not hold
    │   ├── CheckpointError       a checkpoint is malformed or badly signed
    │   └── LedgerIntegrityError  the stored log disagrees with itself (names the first bad index)
    ├── IntakeError               media could not be read (carries a reason from the vocabulary)
    ├── BankError                 (registry.banks) unknown bank, bad name or hash, nothing to remove
    ├── CopyIndexError            (registry.copy_index) the copy index cannot be read or written
    └── HashListError             (registry.bank_csv) a PDQ hash list does not parse
"""

from __future__ import annotations


class ProvregError(Exception):
    """Base class for every error the registry raises on purpose."""


class ConfigurationError(ProvregError):
    """Settings or environment that cannot work."""


class DatabaseUnavailableError(ProvregError):
    """No database could be reached or started."""


class KeyStoreError(ProvregError):
    """Signing keys are missing, unreadable or stored unsafely."""


class VerificationError(ProvregError):
    """Something failed to verify. Verification never returns False: it raises."""


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


class IntakeError(ProvregError):
    """Media could not be read; ``reason`` is one of the documented error reasons."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
