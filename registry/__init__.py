"""provreg's registry: the signed, tamper-evident verdict ledger and everything around it.

The public Python API is the names in ``__all__`` (what the ``provreg`` commands do, as
typed functions returning frozen records; see :mod:`registry.api` and the README). Every
other module is an implementation detail that may move.

Importing ``registry`` stays cheap (every ``registry.*`` import, ``provreg --help`` included,
runs this file): the names load on first use through the module-level ``__getattr__``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from registry.api import (
        LedgerCheck,
        Proof,
        check_asset,
        inclusion_proof,
        ingest_files,
        open_registry,
        search_copies,
        show_asset,
        verify_ledger,
    )
    from registry.app import Registry
    from registry.banks.search import Candidate
    from registry.errors import (
        IntakeError,
        LedgerTamperedError,
        NotInitialisedError,
        ProvregError,
        UnknownAssetError,
        VerificationError,
    )
    from registry.ingest import FileOutcome
    from registry.ledger.integrity import EntryCheck, IntegrityReport
    from registry.queries.assets import AssetFacts, AssetView, SightingFacts, VerdictFacts
    from registry.settings import Settings

_HOMES = {
    "open_registry": "registry.api",
    "ingest_files": "registry.api",
    "show_asset": "registry.api",
    "check_asset": "registry.api",
    "verify_ledger": "registry.api",
    "inclusion_proof": "registry.api",
    "search_copies": "registry.api",
    "LedgerCheck": "registry.api",
    "Proof": "registry.api",
    "Registry": "registry.app",
    "Settings": "registry.settings",
    "FileOutcome": "registry.ingest",
    "AssetView": "registry.queries.assets",
    "AssetFacts": "registry.queries.assets",
    "VerdictFacts": "registry.queries.assets",
    "SightingFacts": "registry.queries.assets",
    "IntegrityReport": "registry.ledger.integrity",
    "EntryCheck": "registry.ledger.integrity",
    "Candidate": "registry.banks.search",
    "ProvregError": "registry.errors",
    "IntakeError": "registry.errors",
    "NotInitialisedError": "registry.errors",
    "UnknownAssetError": "registry.errors",
    "VerificationError": "registry.errors",
    "LedgerTamperedError": "registry.errors",
}
"""Where each public name lives (imported on first access)."""

__all__ = [
    "AssetFacts",
    "AssetView",
    "Candidate",
    "EntryCheck",
    "FileOutcome",
    "IntakeError",
    "IntegrityReport",
    "LedgerCheck",
    "LedgerTamperedError",
    "NotInitialisedError",
    "Proof",
    "ProvregError",
    "Registry",
    "Settings",
    "SightingFacts",
    "UnknownAssetError",
    "VerdictFacts",
    "VerificationError",
    "__version__",
    "check_asset",
    "inclusion_proof",
    "ingest_files",
    "open_registry",
    "search_copies",
    "show_asset",
    "verify_ledger",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'registry' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
